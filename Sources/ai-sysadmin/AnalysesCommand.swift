import ArgumentParser
import CommandSupport
import Fleet
import Foundation
import Monitoring
import Reasoning
import Store
import SysadminConfiguration

/// `ai-sysadmin analyses`: what Layer 4 concluded, newest first, with the tool steps it took.
struct AnalysesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "analyses",
                                                    abstract: "List the meta model's analyses in the store (or a fleet's: --fleet, --host), newest first.")

    @OptionGroup var location: StoreOptions

    @OptionGroup var fleet: FleetScopeOptions

    @Option(name: .long, help: "At most this many analyses.")
    var limit = 10

    @Flag(name: .long, help: "Show each tool step and what it returned.")
    var steps = false

    @Flag(name: .long, help: "One JSON object per line.")
    var json = false

    func run() async throws {
        let program = "ai-sysadmin analyses"
        guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
        if let scope = try fleet.scope(program) {
            let found = try await FleetScopeOptions.reading(program) { try await scope.fleet.conclusions(.analysis, host: scope.host, limit: limit) }
            for (host, _, _, document) in found {
                // Another host's document: shown only if it is an analysis this version reads.
                guard let stored = try? JSONDecoder().decode(StoredAnalysis.self, from: Data(document.utf8)) else { continue }
                if json { print(FleetJSON.line(host: host, "analysis", stored)) } else { Self.show(stored, steps: steps, host: host) }
            }
            return
        }
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
        for stored in analyses {
            if json {
                print(String(decoding: try encoder.encode(stored), as: UTF8.self))
                continue
            }
            Self.show(stored, steps: steps)
        }
    }

    /// One analysis; from a fleet host (`host`), whose words reach the terminal only cleaned of control characters.
    static func show(_ stored: StoredAnalysis, steps: Bool, host: String? = nil) {
        let emit: (String) -> Void = { print(host == nil ? $0 : FleetOperator.text($0)) }
        emit("\(host.map { "\($0)/" } ?? "")#\(stored.id) \(ISO8601DateFormatter().string(from: stored.time))  escalation: \(stored.escalation)")
        if let analysis = stored.analysis {
            emit("    diagnosis (\(analysis.confidence.rawValue) confidence): \(analysis.diagnosis)")
            emit("    root cause: \(analysis.rootCause)")
            for action in analysis.actions { emit("    proposed \(action.displayText)") }
            if !analysis.rollback.isEmpty { emit("    rollback: \(analysis.rollback)") }
            if !analysis.prevention.isEmpty { emit("    prevention: \(analysis.prevention)") }
        } else {
            emit("    failed: \(stored.failure ?? "unknown")")
        }
        emit("    \(stored.steps.count) tool step(s)")
        guard steps else { return }
        for step in stored.steps {
            emit("      \(step.tool) \(step.arguments.keyValueText)")
            for line in step.result.split(separator: "\n").prefix(20) { emit("        \(line)") }
        }
    }
}
