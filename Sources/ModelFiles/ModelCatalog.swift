import Foundation

/// A model name the project knows how to fetch: where from, and the SHA-256 and size the file must have.
public struct ModelCatalogEntry: Sendable, Equatable {
    public var name: String
    public var url: String
    public var sha256: String
    /// Bytes; known for the built-in entries, so a download checks free space before it starts.
    public var size: Int64?
    public var summary: String

    public init(name: String, url: String, sha256: String, size: Int64?, summary: String) {
        self.name = name
        self.url = url
        self.sha256 = sha256
        self.size = size
        self.summary = summary
    }
}

public struct ModelCatalogError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// The names `ai-sysadmin models pull` accepts. A name resolves to a file by ``ModelReference`` (`qwen3:14b` →
/// `<modelDirectory>/qwen3-14b.gguf`), the rule the daemon, `serve-model` and the NixOS module share, so a
/// model is saved under the name it is loaded by.
public struct ModelCatalog: Sendable {
    public private(set) var entries: [ModelCatalogEntry]

    public subscript(name: String) -> ModelCatalogEntry? { entries.first { $0.name == name } }

    /// Pinned to a repository revision where the publisher's history was known, so a file that changes
    /// upstream fails its checksum instead of loading something else. Digests and sizes are the Hugging Face
    /// LFS metadata of those revisions. The request's `qwen3:1b` is Qwen3's smallest useful size, 1.7B.
    public static let builtIn = ModelCatalog(entries: [
        ModelCatalogEntry(
            name: "qwen3:1b",
            url: "https://huggingface.co/Qwen/Qwen3-1.7B-GGUF/resolve/90862c4b9d2787eaed51d12237eafdfe7c5f6077/Qwen3-1.7B-Q8_0.gguf",
            sha256: "061b54daade076b5d3362dac252678d17da8c68f07560be70818cace6590cb1a", size: 1_834_426_016,
            summary: "Qwen3 1.7B, Q8_0 (Qwen) — the trigger layer's default"),
        ModelCatalogEntry(
            name: "qwen3:1.7b-q4",
            url: "https://huggingface.co/ggml-org/Qwen3-1.7B-GGUF/resolve/daeb8e2d528a760970442092f6bf1e55c3b659eb/Qwen3-1.7B-Q4_K_M.gguf",
            sha256: "d2387ca2dbfee2ffabce7120d3770dadca0b293052bc2f0e138fdc940d9bc7b5", size: 1_282_439_264,
            summary: "Qwen3 1.7B, Q4_K_M (ggml-org) — a smaller trigger model"),
        ModelCatalogEntry(
            name: "qwen3:4b",
            url: "https://huggingface.co/Qwen/Qwen3-4B-GGUF/resolve/bc640142c66e1fdd12af0bd68f40445458f3869b/Qwen3-4B-Q4_K_M.gguf",
            sha256: "7485fe6f11af29433bc51cab58009521f205840f5b4ae3a32fa7f92e8534fdf5", size: 2_497_280_256,
            summary: "Qwen3 4B, Q4_K_M (Qwen) — the review layer's default"),
        ModelCatalogEntry(
            name: "qwen3:14b",
            url: "https://huggingface.co/lmstudio-community/Qwen3-14B-GGUF/resolve/main/Qwen3-14B-Q4_K_M.gguf",
            sha256: "712c0791d5124d3dd6d1e4968de1201207afeae49c6e10fbeb9c58fe00c58555", size: 9_001_753_376,
            summary: "Qwen3 14B, Q4_K_M (lmstudio-community) — the meta layer's default"),
    ])

    public init(entries: [ModelCatalogEntry]) {
        self.entries = entries.sorted { $0.name < $1.name }
    }

    /// The built-in catalog with the entries of a JSON file added or replacing ones of the same name — for
    /// mirrors, air-gapped hosts and models of one's own: `{"NAME": {"url", "sha256", "size"?, "summary"?}}`.
    public func merging(file path: String) throws(ModelCatalogError) -> ModelCatalog {
        struct Entry: Decodable {
            let url: String
            let sha256: String
            let size: Int64?
            let summary: String?
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelCatalogError(message: "cannot read the catalog \(path)")
        }
        let decoded: [String: Entry]
        do {
            decoded = try JSONDecoder().decode([String: Entry].self, from: data)
        } catch {
            throw ModelCatalogError(message: "\(path) is not a catalog ({\"NAME\": {\"url\", \"sha256\", \"size\"?, \"summary\"?}}): \(error)")
        }
        var merged = entries
        for (name, entry) in decoded.sorted(by: { $0.key < $1.key }) {
            let candidate = ModelCatalogEntry(name: name, url: entry.url, sha256: entry.sha256.lowercased(), size: entry.size,
                                              summary: entry.summary ?? "")
            if let problem = Self.problem(candidate) { throw ModelCatalogError(message: "\(path): \(problem)") }
            merged.removeAll { $0.name == name }
            merged.append(candidate)
        }
        return ModelCatalog(entries: merged)
    }

    /// Why an entry cannot be used, or `nil`.
    static func problem(_ entry: ModelCatalogEntry) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._:-")
        if entry.name.isEmpty || !entry.name.allSatisfy(allowed.contains) || entry.name.hasPrefix(".") {
            return "the name '\(entry.name.prefix(64))' must be lowercase letters, digits, '.', '_', ':' or '-'"
        }
        if !(entry.url.hasPrefix("https://") || entry.url.hasPrefix("http://")) {
            return "\(entry.name): the url must start with https:// or http://"
        }
        if entry.sha256.count != 64 || !entry.sha256.allSatisfy(\.isHexDigit) {
            return "\(entry.name): sha256 must be 64 hex digits"
        }
        if let size = entry.size, size <= 0 { return "\(entry.name): size must be positive" }
        return nil
    }
}
