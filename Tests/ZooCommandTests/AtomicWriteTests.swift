import Checkpoint
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Writes are atomic: an export killed at any moment leaves the target as it was or whole and
/// new; a full or read-only disk is exit 2 with the previous file untouched.
@Suite("AtomicWrite")
struct AtomicWriteTests {
    @Test func killedExportsLeaveTheTargetWholeOldOrNew() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("resnet18.h5").path
        let first = try zooProcess("export", "resnet18", "--seed", "1", "--output", target)
        #expect(first.status == 0, "\(first.all)")
        // HDF5 files of equal content need not be equal bytes: compare what they hold.
        let original = try CheckpointReader.read(target).stateDict
        // How long one export takes here (the faster of two, as tests run side by side and load
        // varies), so that kills land all through it, the write included.
        var duration = Double.infinity
        for _ in 0..<2 {
            let start = Date()
            #expect(try zooProcess("export", "resnet18", "--seed", "2", "--output", target).status == 0)
            duration = min(duration, Date().timeIntervalSince(start))
        }
        let fresh = try CheckpointReader.read(target).stateDict
        var generator = SystemRandomNumberGenerator()
        var killedMidway = 0
        // At least 20 kills, and on until 10 of them landed while the export ran (a busy machine
        // makes runs vary; a run that finished before its kill tells how fast they go now).
        for trial in 0..<60 where trial < 20 || killedMidway < 10 {
            let process = Process()
            process.executableURL = zooExecutable
            process.arguments = ["export", "resnet18", "--seed", "\(trial % 2 == 0 ? 1 : 2)", "--output", target]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let start = Date()
            try process.run()
            // Uniform over most of the run, the write at its end included.
            usleep(UInt32(duration * Double.random(in: 0.3...1.0, using: &generator) * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal {
                killedMidway += 1
            } else {
                duration = min(duration, Date().timeIntervalSince(start))
            }
            let now = try CheckpointReader.read(target)
            #expect(now.stateDict == original || now.stateDict == fresh, "trial \(trial): the target is neither the old nor the new file")
            let integrity = IntegrityReport(now.stateDict, manifest: now.manifest)
            #expect(integrity.isClean && integrity.verifiedChecksums == 122, "trial \(trial)")
        }
        #expect(killedMidway >= 10, "too few kills landed while the export ran: \(killedMidway)")
        // Temporaries of the killed writers do not trip the next run, which removes them.
        #expect(try zooProcess("export", "resnet18", "--output", target).status == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != "resnet18.h5" }
        #expect(leftovers.isEmpty, "\(leftovers)")
        #expect(try zooProcess("verify", target).status == 0)
    }

    /// A 1 MiB tmpfs (root may mount one; this machine's CI runs as root): a full disk, then the
    /// same folder read-only.
    @Test func aFullOrReadOnlyDiskIsExitTwoAndThePreviousFileIsUntouched() throws {
        let folder = try makeTemporaryFolder()
        defer {
            _ = runMount(["umount", folder.path])
            try? FileManager.default.removeItem(at: folder)
        }
        try #require(
            getuid() == 0 && runMount(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", folder.path]), "needs root to mount a tmpfs")
        let target = folder.appendingPathComponent("model.h5").path
        #expect(try zooProcess("export", "cnnmodel", "--output", target).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: target))
        let full = try zooProcess("export", "simplecnn", "--output", target)  // 2.2 MB into 1 MiB
        #expect(full.status == 2, "\(full.all)")
        #expect(full.stderr.hasPrefix("error: cannot write \(target)"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.h5"], "no temporary is left")
        let converted = try zooProcess("convert", "Zoo/net.h5", folder.appendingPathComponent("net.safetensors").path)
        #expect(converted.status == 2, "\(converted.all)")
        try #require(runMount(["mount", "-o", "remount,ro", folder.path]))
        let readOnly = try zooProcess("export", "cnnmodel", "--seed", "3", "--output", target)
        #expect(readOnly.status == 2, "\(readOnly.all)")
        #expect(readOnly.stderr.hasPrefix("error: cannot write \(target)"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == before)
    }

    private func runMount(_ arguments: [String]) -> Bool {
        guard let result = try? runProcess(URL(fileURLWithPath: "/usr/bin/env"), arguments) else { return false }
        return result.status == 0
    }
}
