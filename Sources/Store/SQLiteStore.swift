import Foundation
import GRDB

/// One SQLite file (WAL, so readers never wait for the writer), with versioned migrations.
public final class SQLiteStore: TemplateStore, EventStore, CursorStore, KnowledgeStore, MetricStore, ConclusionStore {
    let database: DatabasePool

    public init(path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
    }
}
