import Checkpoint
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every writer, on a disk that fills at any point of its write: exit 2, one line naming the file
/// and the system's reason, the previous file intact, no temporary left, no signal. The disks are
/// tmpfs mounts (root may mount them; CI runs as root) from 64 KiB to just under the file's size.
@Suite("FullDisk", .serialized)
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

    /// resnet18 as `.h5` and `.safetensors` (about 47 MB each), made once.
    static let sources: (folder: URL, h5: String, safetensors: String)? = {
        guard let folder = try? makeTemporaryFolder() else { return nil }
        let h5 = folder.appendingPathComponent("resnet18.h5").path
        let safetensors = folder.appendingPathComponent("resnet18.safetensors").path
        guard (try? zooProcess("export", "resnet18", "--output", h5))?.status == 0,
            (try? zooProcess("convert", h5, safetensors))?.status == 0
        else { return nil }
        return (folder, h5, safetensors)
    }()

    /// Each command line that writes, the file it writes, and the file of the same kind that is
    /// already there (for `sign`, the file itself).
    static func writers(into disk: URL, from sources: (folder: URL, h5: String, safetensors: String)) -> [(
        arguments: [String], target: String
    )] {
        let target = { (name: String) in disk.appendingPathComponent(name).path }
        return [
            (["export", "resnet18", "--output", target("export.h5")], target("export.h5")),
            (["convert", sources.h5, target("convert.h5")], target("convert.h5")),
            (["convert", sources.h5, target("convert.safetensors")], target("convert.safetensors")),
            (["convert", sources.safetensors, target("convert-from-safetensors.h5")], target("convert-from-safetensors.h5")),
            (["import", sources.h5, "--output", target("import.h5")], target("import.h5")),
            (["sign", target("sign.h5"), "--key", sources.folder.appendingPathComponent("key").path], target("sign.h5")),
            (["sign", target("sign.safetensors"), "--key", sources.folder.appendingPathComponent("key").path], target("sign.safetensors")),
        ]
    }

    @Test(arguments: rooms)
    func everyWriterAnswersAFullDiskWithExitTwo(room: Room) throws {
        try #require(getuid() == 0, "needs root to mount a tmpfs")
        let sources = try #require(Self.sources, "resnet18 could not be exported")
        if !FileManager.default.fileExists(atPath: sources.folder.appendingPathComponent("key").path) {
            _ = try zooProcess("keygen", "--output", sources.folder.appendingPathComponent("key").path)
        }
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
