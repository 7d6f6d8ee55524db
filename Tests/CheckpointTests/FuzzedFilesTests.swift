import Checkpoint
import Foundation
import Testing

/// What the fuzzers found in zoo's own readers, read in this process (no containment): each is
/// refused with an error that names the problem, never a trap.
@Suite("FuzzedFiles")
struct FuzzedFilesTests {
    static let folder = fixtures.folder.appendingPathComponent("fuzzed")
    static let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()

    @Test func fixturesArePresent() {
        #expect(Self.files.count >= 3)
    }

    /// torch.save zips whose directory holds a ZIP64 offset of 2^63 or more: ZIPFoundation
    /// 0.9.20 would trap converting it to `off_t`; the directory is checked before it reads.
    @Test(arguments: files.filter { $0.hasPrefix("zip64_directory") })
    func impossibleZipDirectoryNumbersAreRefusedInProcess(file: String) {
        let path = Self.folder.appendingPathComponent(file).path
        #expect {
            try CheckpointReader.read(path)
        } throws: { error in
            "\(error)".contains("the zip archive's directory is damaged")
        }
    }
}
