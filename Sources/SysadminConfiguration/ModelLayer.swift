/// The three model servers, one per reasoning layer. Callers route by layer; only the supervisor knows ports.
public enum ModelLayer: String, CaseIterable, Sendable, Codable, Hashable, CustomStringConvertible {
    /// Layer 1: the small model that classifies log templates.
    case trigger
    /// Layer 3: the mid-size model behind the periodic review.
    case review
    /// Layer 4: the large model for deep analysis and chat.
    case meta

    public var description: String { rawValue }

    /// The systemd unit that runs this layer's server under NixOS.
    public var defaultSystemdUnit: String { "llama-\(rawValue).service" }
}
