import Foundation
import Store
import SysadminConfiguration
import TestSupport
import Testing
import UpstreamClient

extension IntegrationTests {
    /// The knowledge base's re-ranking against a real `llama-server --embeddings` (the tiny model, mean
    /// pooling): notes get their embedding when added, search re-orders the full-text candidates by cosine
    /// similarity to the query, and without the endpoint search still answers by full text.
    @Suite struct KnowledgeEmbeddingTests {
        @Test func fullTextCandidatesAreReRankedByEmbeddingsAndSearchSurvivesTheEndpointGoing() async throws {
            let directory = try TestEnvironment.temporaryDirectory("embeddings")
            let port = freePort()
            let server = Process()
            server.executableURL = URL(fileURLWithPath: try TestEnvironment.llamaServer())
            server.arguments = ["-m", try TestEnvironment.model(), "--host", "127.0.0.1", "--port", "\(port)", "-c", "1024", "-t", "2",
                                "--no-webui", "--embeddings", "--pooling", "mean"]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            defer { TestEnvironment.end(server) }
            let base = "http://127.0.0.1:\(port)"
            let client = OpenAIClient(endpoint: ModelEndpoint(baseURL: base, apiKey: nil))
            #expect(await eventually(timeout: .seconds(60)) { if case .ready = await client.health() { true } else { false } })

            var config = DaemonConfiguration()
            config.stateDirectory = directory
            config.knowledge.embeddings = .init(url: base, model: "smollm")
            let configFile = directory + "/config.json"
            try config.encodedJSON().write(toFile: configFile, atomically: true, encoding: .utf8)
            let cli = try TestEnvironment.daemonExecutable()
            let notes = [
                ("nginx worker crashes", "nginx workers died with signal 11 after the geoip module update; rolled back the module"),
                ("disk full on /var", "nginx access logs filled /var; logrotate was disabled"),
                ("certificate expired", "nginx served an expired TLS certificate; certbot timer had failed"),
            ]
            for (title, body) in notes {
                let added = try TestEnvironment.runToCompletion(cli, ["knowledge", "add", "--config", configFile, "--title", title, body])
                #expect(added.status == 0, "\(added.stderr)")
            }
            let store = try SQLiteStore(path: config.storePath)
            let stored = try store.embeddings(forKnowledge: [1, 2, 3], model: "smollm")
            #expect(stored.count == 3 && stored.values.allSatisfy { $0.count > 0 }, "each note got its embedding when added")

            let query = "nginx crashed with a segmentation fault"
            let search = try TestEnvironment.runToCompletion(cli, ["knowledge", "search", "--config", configFile, "--json", query])
            #expect(search.status == 0, "\(search.stderr)")
            let found = search.stdout.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? Int
            }
            // The expected order, computed here from the same endpoint: by cosine similarity to the query.
            let wanted = try #require(try await client.embeddings([query], model: "smollm").first)
            func cosine(_ a: [Float], _ b: [Float]) -> Float {
                let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
                return dot / (a.reduce(0) { $0 + $1 * $1 }.squareRoot() * b.reduce(0) { $0 + $1 * $1 }.squareRoot())
            }
            let expected = stored.sorted { cosine($0.value, wanted) > cosine($1.value, wanted) }.map { Int($0.key) }
            #expect(found == expected, "full-text candidates must come back by similarity")
            let fullText = try store.searchKnowledge(query, limit: 10).map { Int($0.id) }
            #expect(Set(fullText) == Set(found), "re-ranking re-orders the full-text candidates, it does not add any")
            // Embeddings and BM25 are both deterministic here, so this holds on every run: if the two orders agreed,
            // the test could not tell re-ranking from its absence.
            #expect(fullText != expected, "the fixture's notes must rank differently by full text (\(fullText)) and by embeddings")

            TestEnvironment.end(server)
            let without = try TestEnvironment.runToCompletion(cli, ["knowledge", "search", "--config", configFile, "--json", query])
            #expect(without.status == 0 && without.stdout.split(separator: "\n").count == 3, "\(without)")
        }
    }
}
