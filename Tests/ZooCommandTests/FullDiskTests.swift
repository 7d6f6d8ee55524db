import Checkpoint
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// resnet18 as `.h5` and `.safetensors` (about 47 MB each) and a signing key, made once for
/// the suite and removed after it, so that no run leaves them in the temporary folder.
private struct Sources: Sendable {
    var folder: URL
    var h5: String { folder.appendingPathComponent("resnet18.h5").path }
    var safetensors: String { folder.appendingPathComponent("resnet18.safetensors").path }
    var key: String { folder.appendingPathComponent("key").path }
}

/// Makes ``Sources`` around the whole suite; the tests read them from ``current``.
private struct MadeSources: SuiteTrait, TestScoping {
    @TaskLocal static var current: Sources?

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let sources = Sources(folder: try makeTemporaryFolder())
        defer { try? FileManager.default.removeItem(at: sources.folder) }
        let made =
            (try? zooProcess("export", "resnet18", "--output", sources.h5))?.status == 0
            && (try? zooProcess("convert", sources.h5, sources.safetensors))?.status == 0
            && (try? zooProcess("keygen", "--output", sources.key))?.status == 0
        try await Self.$current.withValue(made ? sources : nil) { try await function() }
    }
}

/// Every writer, on a disk that fills at any point of its write: exit 2, one line naming the file
/// and the system's reason, the previous file intact, no temporary left, no signal. The disks are
/// tmpfs mounts (root may mount them; CI runs as root) from 64 KiB to just under the file's size.
@Suite("FullDisk", .serialized, MadeSources())
struct FullDiskTests {
    /// Free space on the disk, as a size or relative to the file being written.
    enum Room: CustomTestStringConvertible, Sendable {
        case bytes(Int)
        case justUnderTheFile

        var testDescription: String {
            switch self {
            case .bytes(let count): "\(count / 1024) KiB"
            case .justUnderTheFile: "just under the file"
            }
        }

        func bytes(forFileOf size: Int) -> Int {
            switch self {
            case .bytes(let count): count
            case .justUnderTheFile: size - 64 * 1024
            }
        }
    }

    static let rooms: [Room] = [64, 1024, 8192, 32768].map { .bytes($0 * 1024) } + [.justUnderTheFile]

    /// Each command line that writes, the file it writes, and the file of the same kind that is
    /// already there (for `sign`, the file itself).
    fileprivate static func writers(into disk: URL, from sources: Sources) -> [(
        arguments: [String], target: String
    )] {
        let target = { (name: String) in disk.appendingPathComponent(name).path }
        return [
            (["export", "resnet18", "--output", target("export.h5")], target("export.h5")),
            (["convert", sources.h5, target("convert.h5")], target("convert.h5")),
            (["convert", sources.h5, target("convert.safetensors")], target("convert.safetensors")),
            (["convert", sources.safetensors, target("convert-from-safetensors.h5")], target("convert-from-safetensors.h5")),
            (["import", sources.h5, "--output", target("import.h5")], target("import.h5")),
            (["sign", target("sign.h5"), "--key", sources.key], target("sign.h5")),
            (["sign", target("sign.safetensors"), "--key", sources.key], target("sign.safetensors")),
        ]
    }

    @Test(arguments: rooms)
    func everyWriterAnswersAFullDiskWithExitTwo(room: Room) throws {
        try #require(getuid() == 0, "needs root to mount a tmpfs")
        let sources = try #require(MadeSources.current, "resnet18 could not be exported, converted or given a key")
        for index in Self.writers(into: sources.folder, from: sources).indices {
            let disk = try makeTemporaryFolder()
            defer {
                _ = mount(["umount", disk.path])
                try? FileManager.default.removeItem(at: disk)
            }
            let (arguments, previous) = Self.writers(into: disk, from: sources)[index]
            let name = URL(fileURLWithPath: previous).lastPathComponent
            // What is there before: a small file of the same kind, or the file to sign.
            let existing = arguments[0] == "sign" ? (name.hasSuffix(".h5") ? sources.h5 : sources.safetensors) : nil
            // The room is measured against the file written, whose size is its source's.
            let source = existing ?? (name.hasSuffix(".safetensors") ? sources.safetensors : sources.h5)
            let fileSize = try #require(try FileManager.default.attributesOfItem(atPath: source)[.size] as? Int)
            let size = room.bytes(forFileOf: fileSize) + 64 * 1024 + (existing == nil ? 0 : fileSize)
            try #require(mount(["mount", "-t", "tmpfs", "-o", "size=\(size)", "tmpfs", disk.path]))
            if let existing {
                try FileManager.default.copyItem(atPath: existing, toPath: previous)
            } else {
                try Data("previous".utf8).write(to: URL(fileURLWithPath: previous))
            }
            let before = try Data(contentsOf: URL(fileURLWithPath: previous))
            let result = try zooProcess(arguments)
            #expect(result.status == 2, "\(arguments): \(result.all)")
            #expect(result.stderr.hasPrefix("error: cannot write \(previous): No space left on device\n"), "\(arguments): \(result.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: previous)) == before, "\(arguments): the previous file changed")
            #expect(try FileManager.default.contentsOfDirectory(atPath: disk.path) == [name], "\(arguments): a temporary is left")
        }
    }

    private func mount(_ arguments: [String]) -> Bool {
        guard let result = try? runProcess(URL(fileURLWithPath: "/usr/bin/env"), arguments) else { return false }
        return result.status == 0
    }
}
