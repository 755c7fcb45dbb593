import Foundation
import Logging
import Store
import Testing
@testable import ActionService

/// The audit table's JSON-lines copy after a crash: whatever the file holds, each row is there once, in order.
@Suite struct AuditMirrorTests {
    @Test func aTornLastLineIsCutAndTheCopyResumesAfterTheLastCompleteOne() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mirror-\(UUID().uuidString)").path
        let store = try SQLiteStore(path: directory + "/ai-sysadmin.sqlite")
        for unit in ["a.service", "b.service"] {
            _ = try store.insert(NewProposal(source: "review 1", type: "restart_unit", parameters: ["unit": unit], rationale: "r",
                                             action: nil, risk: "medium", expectedEffect: "", rollback: ""),
                                 state: .recorded, reason: "observe", actor: "policy", expiresAt: nil, at: Date())
        }
        let rows = try store.audit(after: 0, since: nil, unit: nil, limit: 100)
        #expect(rows.count == 4)
        // As a crash would leave it: the first row written whole, the second cut off mid-line.
        let path = directory + "/audit.jsonl"
        let torn = AuditLine.encode(rows[0]) + "\n" + AuditLine.encode(rows[1]).prefix(30)
        try torn.write(toFile: path, atomically: true, encoding: .utf8)

        var mirror = AuditMirror(path: path, logger: Logger(label: "test"))
        mirror.copyNewEntries(from: store)
        mirror.copyNewEntries(from: store)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.dropLast().map(String.init) == rows.map(AuditLine.encode), "every row once, in order, nothing torn")
        #expect(lines.last == "", "the file ends with a newline")
    }
}
