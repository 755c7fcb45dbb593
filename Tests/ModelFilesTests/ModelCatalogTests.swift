import Foundation
import SysadminConfiguration
import Testing
@testable import ModelFiles

@Suite struct ModelCatalogTests {
    @Test func everyBuiltInEntryIsUsable() {
        for entry in ModelCatalog.builtIn.entries {
            #expect(ModelCatalog.problem(entry) == nil, "\(entry.name)")
            #expect(entry.url.hasPrefix("https://huggingface.co/"), "\(entry.name)")
        }
    }

    @Test func theRequestsNamesAreThere() {
        for name in ["qwen3:1b", "qwen3:4b", "qwen3:14b"] {
            #expect(ModelCatalog.builtIn[name] != nil, "\(name)")
        }
    }

    /// The configuration's default models must be pullable by the name the daemon will load them under.
    @Test func theConfigurationsDefaultModelsArePullable() {
        let configuration = DaemonConfiguration()
        for layer in ModelLayer.allCases {
            #expect(ModelCatalog.builtIn[configuration.models[layer].model] != nil, "\(layer)")
        }
    }

    @Test(arguments: [
        (#"{"Bad Name": {"url": "https://h/f", "sha256": "\#(String(repeating: "a", count: 64))"}}"#, "lowercase letters"),
        (#"{"x": {"url": "file:///etc/passwd", "sha256": "\#(String(repeating: "a", count: 64))"}}"#, "url must start with"),
        (#"{"x": {"url": "https://h/f", "sha256": "zz"}}"#, "64 hex digits"),
        (#"{"x": {"url": "https://h/f", "sha256": "\#(String(repeating: "a", count: 64))", "size": 0}}"#, "size must be positive"),
        (#"["not", "an", "object"]"#, "is not a catalog"),
    ])
    func aBadCatalogIsRefusedWithTheReason(_ json: String, _ reason: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString).json").path
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            try ModelCatalog.builtIn.merging(file: file)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func aCatalogFileAddsAndReplacesNames() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString).json").path
        let digest = String(repeating: "B", count: 64)
        try #"{"qwen3:4b": {"url": "https://mirror.example/q4.gguf", "sha256": "\#(digest)"}, "mine:1": {"url": "http://h/m.gguf", "sha256": "\#(digest)"}}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let merged = try ModelCatalog.builtIn.merging(file: file)
        #expect(merged["qwen3:4b"]?.url == "https://mirror.example/q4.gguf")
        #expect(merged["qwen3:4b"]?.sha256 == String(repeating: "b", count: 64))
        #expect(merged["mine:1"] != nil && merged["qwen3:14b"] != nil)
    }

    @Test func contentRangeAndByteCounts() {
        #expect(ContentRange("bytes 100-199/200")?.first == 100)
        #expect(ContentRange("bytes 100-199/200")?.total == 200)
        #expect(ContentRange("bytes 5-9/*")?.total == nil)
        #expect(ContentRange("items 1-2/3") == nil)
        #expect(ByteCount.text(512) == "512 bytes")
        #expect(ByteCount.text(1536) == "1.5 KiB")
        #expect(ByteCount.text(9_001_753_376) == "8.4 GiB")
    }
}
