import ArgumentParser
import CommandSupport
import Foundation
import Monitoring
import Reasoning
import Store
import SysadminConfiguration

/// `ai-sysadmin analyses`: what Layer 4 concluded, newest first, with the tool steps it took.
struct AnalysesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "analyses", abstract: "List the meta model's analyses in the store, newest first.")

    @OptionGroup var location: StoreOptions

    @Option(name: .long, help: "At most this many analyses.")
    var limit = 10

    @Flag(name: .long, help: "Show each tool step and what it returned.")
    var steps = false

    @Flag(name: .long, help: "One JSON object per line.")
    var json = false

    func run() throws {
        let program = "ai-sysadmin analyses"
        guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
        let store = try location.open(program, mustExist: true)
        let analyses: [StoredAnalysis]
        do {
            analyses = try store.analyses(limit: limit)
        } catch {
            throw CommandSupport.fail(program, ["\(error)"])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let formatter = ISO8601DateFormatter()
        for stored in analyses {
            if json {
                print(String(decoding: try encoder.encode(stored), as: UTF8.self))
                continue
            }
            print("#\(stored.id) \(formatter.string(from: stored.time))  escalation: \(stored.escalation)")
            if let analysis = stored.analysis {
                print("    diagnosis (\(analysis.confidence.rawValue) confidence): \(analysis.diagnosis)")
                print("    root cause: \(analysis.rootCause)")
                for action in analysis.actions { print("    proposed \(action.displayText)") }
                if !analysis.rollback.isEmpty { print("    rollback: \(analysis.rollback)") }
                if !analysis.prevention.isEmpty { print("    prevention: \(analysis.prevention)") }
            } else {
                print("    failed: \(stored.failure ?? "unknown")")
            }
            print("    \(stored.steps.count) tool step(s)")
            if steps {
                for step in stored.steps {
                    print("      \(step.tool) \(step.arguments.keyValueText)")
                    for line in step.result.split(separator: "\n").prefix(20) { print("        \(line)") }
                }
            }
        }
    }
}
