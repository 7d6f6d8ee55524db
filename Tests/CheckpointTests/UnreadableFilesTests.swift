import Checkpoint
import Foundation
import TestSupport
import Testing

/// Files that are not checkpoints must fail with an error that says what they are.
@Suite("UnreadableFiles")
struct UnreadableFilesTests {
    static let cases: [(name: String, bytes: [UInt8], explanation: String)] = [
        ("empty.h5", [], "empty"),
        ("lfs.h5", Array("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n".utf8), "Git LFS"),
        ("torch.pt", [0x50, 0x4B, 0x03, 0x04] + Array(repeating: 0, count: 60), "not a readable zip archive"),
        ("pickle.pt", [0x80, 0x02, 0x7D, 0x71, 0x00], "a Python pickle, but not a torch.save file"),
        ("random.bin", (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }, "not HDF5, torch.save or safetensors"),
    ]

    @Test(arguments: cases.map(\.name))
    func explainsWhatTheFileIs(name: String) throws {
        let (_, bytes, explanation) = try #require(Self.cases.first { $0.name == name })
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let error = #expect(throws: CheckpointError.self) { try CheckpointReader.read(path) }
        #expect(error?.description.contains(explanation) == true, "\(error?.description ?? "")")
        #expect(error?.description.contains(name) == true)
    }

    @Test func truncatedHDF5FileIsAnHDF5Error() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let whole = try Data(contentsOf: fixtures.folder.appendingPathComponent("interop/flat.h5"))
        let path = folder.appendingPathComponent("truncated.h5").path
        _ = FileManager.default.createFile(atPath: path, contents: whole.prefix(whole.count / 2))
        let error = #expect(throws: CheckpointError.self) { try CheckpointReader.read(path) }
        guard case .hdf5(let errorPath, let underlying) = error else {
            Issue.record("expected an HDF5 error, got \(String(describing: error))")
            return
        }
        #expect(errorPath == path)
        #expect(!underlying.message.isEmpty)
        #expect(underlying.minor != nil, "HDF5's own error numbers are kept: \(underlying)")
    }

    @Test func missingFileSaysSo() {
        let error = #expect(throws: CheckpointError.self) { try CheckpointReader.read("/nonexistent/zoo/model.h5") }
        #expect(error?.description.contains("no such file") == true)
    }
}
