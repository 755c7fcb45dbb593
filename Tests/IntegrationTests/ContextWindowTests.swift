import Foundation
import Monitoring
import MonitoringService
import Reasoning
import Store
import Testing

extension IntegrationTests {
    /// Layer 2 from the store: what was concluded and done, then the events — so a restarted daemon's window
    /// is the one it had.
    @Suite struct ContextWindowTests {
        @Test func theWindowHoldsReviewsAnalysesActionsAndEventsAndSurvivesAReopen() async throws {
            let path = try TestEnvironment.temporaryDirectory("window") + "/ai-sysadmin.sqlite"
            let start = Date().addingTimeInterval(-600)
            do {
                let store = try SQLiteStore(path: path)
                try store.append([TriggerEvent(record: LogRecord(message: "nginx: worker exited on signal 11", unit: "nginx.service"),
                                               templateID: 1, severity: .error, category: .service, escalate: true,
                                               summary: "nginx workers crash", source: .rule)], processedAt: Date())
                try store.append(Review(status: .degraded, summary: "nginx is crashing", issues: [], proposedActions: [],
                                        escalate: true, escalationReason: "crash loop"), at: start)
                try store.append(StoredAnalysis(time: start, escalation: "review 1", analysis: Analysis(
                    diagnosis: "a bad module crashes the workers", rootCause: "module", confidence: .medium, actions: [],
                    rollback: "", prevention: "", knowledgeNote: ""), failure: nil, steps: []))
                _ = try store.insert(NewProposal(source: "analysis 1", type: "restart_unit", parameters: ["unit": "nginx.service"],
                                                 rationale: "crash", action: nil, risk: "medium", expectedEffect: "", rollback: ""),
                                     state: .queued, reason: nil, actor: "policy", expiresAt: nil, at: start)
            }
            // Reopened, as after a restart.
            let store = try SQLiteStore(path: path)
            #expect(abs(ReviewService.reviewStart(store).timeIntervalSince(start)) < 0.001, "the next review starts where the last one did (the store keeps milliseconds)")
            let text = await RecentContext.render(store, since: start, budget: 2000) { $0.utf8.count / 4 }
            for fragment in ["review: degraded: nginx is crashing", "analysis: a bad module crashes the workers (medium confidence)",
                             "action restart_unit unit=nginx.service: queued", "1× [error, rule] nginx.service: nginx workers crash"] {
                #expect(text.contains(fragment), "\(fragment) in:\n\(text)")
            }
            let small = await RecentContext.render(store, since: start, budget: 40) { $0.utf8.count / 4 }
            #expect(small.utf8.count < text.utf8.count, "the budget cuts events")
        }

        /// A signature's event reaches the review as such, and a review an escalation brought is told what
        /// escalated: which signature, how often, and why it matters.
        @Test func theReviewSeesWhichSignatureFlaggedALineAndWhatEscalated() async throws {
            let store = try SQLiteStore(path: try TestEnvironment.temporaryDirectory("causes") + "/ai-sysadmin.sqlite")
            let oom = try #require(SignaturePack.builtIn.match("Out of memory: Killed process 4242 (java) total-vm:812345kB"))
            let events = (0..<3).map { n in
                TriggerEvent(record: LogRecord(message: "Out of memory: Killed process \(4242 + n) (java) total-vm:812345kB", identifier: "kernel"),
                             templateID: 1, severity: oom.severity, category: oom.category, escalate: oom.escalate, summary: oom.why,
                             source: .signature(oom.id))
            } + [TriggerEvent(record: LogRecord(message: "12 error lines from app.service within 60 s", unit: "app.service"), templateID: 0,
                              severity: .error, category: .service, escalate: true, summary: "a burst of errors from app.service", source: .errorRate),
                 TriggerEvent(record: LogRecord(message: "GET / 200"), templateID: 2, severity: .warning, category: .other, escalate: false,
                              summary: "odd", source: .model)]
            let since = Date().addingTimeInterval(-60)
            try store.append(events, processedAt: Date())
            let text = await RecentContext.render(store, since: since, budget: 2000) { $0.utf8.count / 4 }
            #expect(text.contains("3× [critical, signature oom-killer] kernel: \(oom.why)"), "\(text)")
            #expect(text.contains("[error, error burst] app.service: a burst of errors from app.service"), "\(text)")
            #expect(text.contains("1× [warning, model]"), "\(text)")
            let causes = ReviewService.escalationCauses(try store.events(since: since, limit: 100))
            #expect(causes == "signature oom-killer ×3 (\(oom.why)), error-rate ×1 (a burst of errors from app.service)")
            #expect(ReviewService.escalationCauses([]) == nil)
        }
    }
}
