import Foundation
import ModelSupervisor
import Synchronization
import UpstreamClient

/// The meta model's server as the gateway reaches it, with its key re-read when the key file changes (the
/// supervisor writes a new one each time it starts a managed server).
final class UpstreamTarget: Sendable {
    let baseURL: String
    /// The model name sent upstream (llama-server's `--alias`).
    let modelName: String
    private let keyFile: String?
    private let cachedKey = Mutex<(modified: Date, key: String)?>(nil)

    init(configuration: DaemonConfiguration) {
        baseURL = configuration.baseURL(for: .meta)
        modelName = configuration.models.meta.alias ?? ModelLayer.meta.rawValue
        keyFile = configuration.apiKeyFile(for: .meta)
    }

    var endpoint: ModelEndpoint {
        ModelEndpoint(baseURL: baseURL, apiKey: currentKey())
    }

    private func currentKey() -> String? {
        guard let keyFile,
              let modified = (try? FileManager.default.attributesOfItem(atPath: keyFile))?[.modificationDate] as? Date
        else { return nil }
        if let cached = cachedKey.withLock({ $0 }), cached.modified == modified { return cached.key }
        guard let key = try? ModelAPIKey.read(from: keyFile) else { return nil }
        cachedKey.withLock { $0 = (modified, key) }
        return key
    }
}
