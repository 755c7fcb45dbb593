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
    private let cachedKey = Mutex<(modified: Date, key: String, checked: ContinuousClock.Instant)?>(nil)

    init(configuration: DaemonConfiguration) {
        baseURL = configuration.baseURL(for: .meta)
        modelName = configuration.models.meta.alias ?? ModelLayer.meta.rawValue
        keyFile = configuration.apiKeyFile(for: .meta)
    }

    var endpoint: ModelEndpoint {
        ModelEndpoint(baseURL: baseURL, apiKey: currentKey())
    }

    /// The key, with the file looked at no more than once a second: a restarted server takes seconds to load its
    /// model, so a key a second old is never the one it refuses.
    private func currentKey() -> String? {
        guard let keyFile else { return nil }
        let now = ContinuousClock.now
        if let cached = cachedKey.withLock({ $0 }), now - cached.checked < .seconds(1) { return cached.key }
        guard let modified = (try? FileManager.default.attributesOfItem(atPath: keyFile))?[.modificationDate] as? Date
        else { return nil }
        if let cached = cachedKey.withLock({ $0 }), cached.modified == modified {
            cachedKey.withLock { $0 = (modified, cached.key, now) }
            return cached.key
        }
        guard let key = try? ModelAPIKey.read(from: keyFile) else { return nil }
        cachedKey.withLock { $0 = (modified, key, now) }
        return key
    }
}
