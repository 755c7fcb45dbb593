import Foundation
import Testing
@testable import Monitoring

@Suite struct FileTailerTests {
    private func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tail-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func append(_ text: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        handle.closeFile()
    }

    private func text(_ lines: [FileTailer.Line]) -> [String] { lines.map { String(decoding: $0.bytes, as: UTF8.self) } }

    @Test func aNewSourceStartsAtTheEndAndReturnsOnlyCompleteLines() throws {
        let path = try directory() + "/app.log"
        try append("history\n", to: path)
        let tailer = FileTailer(path: path, cursor: nil)
        #expect(tailer.poll().isEmpty)
        try append("one\ntw", to: path)
        #expect(text(tailer.poll()) == ["one"])
        try append("o\r\n", to: path)
        #expect(text(tailer.poll()) == ["two"])
    }

    /// Layer 1 stores the cursor of the last line it decided, which need not be the last line read.
    @Test func eachLineCarriesTheCursorThatResumesRightAfterIt() throws {
        let path = try directory() + "/app.log"
        try append("a\nbb\nccc\n", to: path)
        let lines = FileTailer(path: path, cursor: nil, fromStart: true).poll()
        #expect(text(lines) == ["a", "bb", "ccc"])
        #expect(text(FileTailer(path: path, cursor: lines[0].end).poll()) == ["bb", "ccc"])
        #expect(text(FileTailer(path: path, cursor: lines[1].end).poll()) == ["ccc"])
        #expect(FileTailer(path: path, cursor: lines[2].end).poll().isEmpty)
    }

    @Test func aCursorResumesWithoutLossOrRepetition() throws {
        let path = try directory() + "/app.log"
        try append("a\nb\nc\n", to: path)
        let first = FileTailer(path: path, cursor: nil, fromStart: true)
        #expect(text(first.poll()) == ["a", "b", "c"])
        let cursor = try #require(first.cursor)
        try append("d\ne\n", to: path)
        let restarted = FileTailer(path: path, cursor: FileTailer.Cursor(cursor.description))
        #expect(text(restarted.poll()) == ["d", "e"])
    }

    @Test func rotationReadsTheRestOfTheOldFileThenTheNewOne() throws {
        let folder = try directory()
        let path = folder + "/app.log"
        try append("1\n2\n", to: path)
        let tailer = FileTailer(path: path, cursor: nil, fromStart: true)
        #expect(text(tailer.poll()) == ["1", "2"])
        try append("3\n", to: path)
        try FileManager.default.moveItem(atPath: path, toPath: folder + "/app.log.1")
        try append("4\n", to: path)
        #expect(text(tailer.poll()) == ["3", "4"])
        try append("5\n", to: path)
        #expect(text(tailer.poll()) == ["5"])
    }

    @Test func truncationStartsOverFromTheBeginning() throws {
        let path = try directory() + "/app.log"
        try append("a long first line\nanother\n", to: path)
        let tailer = FileTailer(path: path, cursor: nil, fromStart: true)
        _ = tailer.poll()
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.truncateFile(atOffset: 0)
        handle.closeFile()
        try append("x\n", to: path)
        #expect(text(tailer.poll()) == ["x"])
    }

    @Test func aFileThatAppearsLaterIsFollowedFromItsStart() throws {
        let path = try directory() + "/late.log"
        let tailer = FileTailer(path: path, cursor: nil)
        #expect(tailer.poll().isEmpty && tailer.cursor == nil)
        try append("hello\n", to: path)
        #expect(text(tailer.poll()) == ["hello"])
    }

    @Test func cursorsRoundTripAndNonsenseIsRefused() {
        #expect(FileTailer.Cursor("inode=12;offset=34") == FileTailer.Cursor(inode: 12, offset: 34))
        #expect(FileTailer.Cursor("inode=12") == nil)
        #expect(FileTailer.Cursor("inode=x;offset=1") == nil)
        #expect(FileTailer.Cursor("inode=1;offset=-5") == nil)
    }
}
