import ArgumentParser
import CommandSupport
import Foundation
import MonitoringService
import Store
import SysadminConfiguration

/// `ai-sysadmin knowledge add | search`: the knowledge base the layers search (full text, BM25, re-ranked by
/// embeddings when `knowledge.embeddings` is configured).
struct KnowledgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knowledge",
        abstract: "Add to and search the knowledge base (runbook notes, fixes, lessons).",
        subcommands: [Add.self, Search.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a note; the body is the argument, or standard input with -.")
        @OptionGroup var location: StoreOptions
        @Option(name: .long, help: "A short title.") var title: String
        @Option(name: .customLong("tag"), help: "A tag (repeatable).") var tags: [String] = []
        @Argument(help: "The note's text, or - to read it from standard input.") var body: String

        func run() async throws {
            let program = "ai-sysadmin knowledge add"
            let text = body == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : body
            let trimmedTitle = title.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmedTitle.isEmpty, trimmedTitle.count <= 200 else { throw CommandSupport.fail(program, ["--title must be 1 to 200 characters"]) }
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, text.utf8.count <= 64 * 1024 else {
                throw CommandSupport.fail(program, ["the note must have text, at most 64 KiB"])
            }
            guard tags.allSatisfy({ !$0.isEmpty && !$0.contains(where: \.isWhitespace) }) else {
                throw CommandSupport.fail(program, ["a --tag is one word"])
            }
            let knowledge = try location.knowledgeBase(program, mustExist: false)
            do {
                let id = try await knowledge.add(title: trimmedTitle, body: text, tags: tags, at: Date())
                print("added note \(id)")
            } catch {
                throw CommandSupport.fail(program, ["\(error)"])
            }
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Search the notes, best match first.")
        @OptionGroup var location: StoreOptions
        @Option(name: .long, help: "At most this many notes.") var limit = 10
        @Flag(name: .long, help: "One JSON object per line.") var json = false
        @Argument(help: "Words to look for.") var query: String

        func run() async throws {
            let program = "ai-sysadmin knowledge search"
            guard limit > 0 else { throw CommandSupport.fail(program, ["--limit must be positive"]) }
            let notes: [KnowledgeNote]
            do {
                notes = try await location.knowledgeBase(program, mustExist: false).search(query, limit: limit)
            } catch let exit as ExitCode {
                throw exit
            } catch {
                throw CommandSupport.fail(program, ["\(error)"])
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            for note in notes {
                if json {
                    print(String(decoding: try encoder.encode(note), as: UTF8.self))
                } else {
                    print("#\(note.id) \(note.title)\(note.tags.isEmpty ? "" : "  [\(note.tags.joined(separator: ", "))]")")
                    print("    \(note.body.prefix(300).replacingOccurrences(of: "\n", with: "\n    "))")
                }
            }
        }
    }
}
