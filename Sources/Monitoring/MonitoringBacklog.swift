/// Layer 1's backlog: what waits for the trigger model.
public struct MonitoringBacklog: Codable, Sendable, Equatable {
    /// Templates without a verdict (new, in flight, or failed and waiting to be asked again).
    public var templatesWaiting: Int
    /// How long the oldest of them has waited.
    public var oldestWaitingSeconds: Double?
    /// Lines held for their template's verdict (their sources' cursors wait before them).
    public var linesHeld: Int
    /// Lines the rules decided without a verdict, to be judged again when it comes.
    public var provisionalLines: Int
    public var classificationFailuresLastHour: Int
    /// "ready", or "not ready: why".
    public var triggerModel: String
    /// Requests to the trigger model since the daemon started.
    public var modelCalls: Int
    /// Verdicts taken from other hosts of the fleet instead of asking the model, since the daemon started.
    public var sharedVerdicts: Int

    public init(templatesWaiting: Int, oldestWaitingSeconds: Double?, linesHeld: Int, provisionalLines: Int,
                classificationFailuresLastHour: Int, triggerModel: String, modelCalls: Int = 0, sharedVerdicts: Int = 0) {
        self.templatesWaiting = templatesWaiting
        self.oldestWaitingSeconds = oldestWaitingSeconds
        self.linesHeld = linesHeld
        self.provisionalLines = provisionalLines
        self.classificationFailuresLastHour = classificationFailuresLastHour
        self.triggerModel = triggerModel
        self.modelCalls = modelCalls
        self.sharedVerdicts = sharedVerdicts
    }
}
