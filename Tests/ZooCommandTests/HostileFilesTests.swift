import Checkpoint
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Files from strangers: a reader that hangs or crashes inside a C library is stopped and named,
/// never a signal or a hang for the user; the library offers the same containment.
@Suite("HostileFiles")
struct HostileFilesTests {
    @Test func aReaderThatHangsIsStoppedAtTheTimeout() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A FIFO nobody writes to: opening it blocks the reader forever.
        let path = folder.appendingPathComponent("hang.h5").path
        #expect(mkfifo(path, 0o600) == 0)
        let start = Date()
        let result = try zooProcess("verify", path, "--timeout", "1")
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(result.status == 2, "\(result.all)")
        #expect(result.stderr.contains("\(path): reading took longer than 1 s and was stopped"))
    }

    /// `zoo inspect` and `zoo bench load` read with no tensor handed back (the facts-only child),
    /// contained all the same: a hang is stopped with the flag that changes the limit, and a crash
    /// inside libhdf5 is exit 2 naming the file, before any in-process read.
    @Test(arguments: [["inspect"], ["bench", "load"]])
    func aFactsOnlyReadIsContainedToo(command: [String]) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("hang.h5").path
        #expect(mkfifo(path, 0o600) == 0)
        let hung = try zooProcess(command + [path, "--timeout", "1"])
        #expect(hung.status == 2, "\(hung.all)")
        #expect(hung.stderr.contains("\(path): reading took longer than 1 s and was stopped"), "\(hung.stderr)")
        #expect(hung.stderr.contains("(--timeout changes the limit)"), "\(hung.stderr)")
        for file in ["bad_hdf5_fault_object_header.h5", "bad_hdf5_fault_global_heap.h5"] {
            let crashed = try zooProcess(command + [fixture(file)])
            #expect(crashed.status == 2, "\(crashed.all)")
            #expect(crashed.stderr.hasPrefix("error: cannot read \(fixture(file)) as a checkpoint"), "\(crashed.stderr)")
            #expect(crashed.stdout.isEmpty)
        }
    }

    /// Everything the in-process fuzzing run found (Tools/fuzz/mutate.py --mode in-process, 20 min):
    /// faults and endless loops inside libhdf5 1.10.8, and traps inside ZIPFoundation 0.9.20 on
    /// crafted ZIP64 offsets (also found by Tools/fuzz/libfuzzer.py, and now refused before
    /// ZIPFoundation reads, even in-process), and the libhdf5 faults and huge allocations that
    /// Tools/fuzz/libfuzzer.py found in-process (libfuzzer-*.h5). Contained, each is exit 2 with
    /// one line naming the file.
    static let fuzzedFolder = Fixtures("ZooCommandTests").folder.appendingPathComponent("fuzzed")
    static let fuzzed = ((try? FileManager.default.contentsOfDirectory(atPath: fuzzedFolder.path)) ?? []).sorted()

    @Test(arguments: fuzzed)
    func whatFuzzingFoundIsExitTwoWithOneLine(file: String) throws {
        let path = Self.fuzzedFolder.appendingPathComponent(file).path
        let result = try zooProcess("inspect", path, "--timeout", "5")
        #expect(result.status == 2, "\(file): \(result.all)")
        #expect(result.stderr.hasPrefix("error: cannot read \(path) as a checkpoint\n\(path): "), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    /// The torch zips among them, read in the `zoo` process itself (`ZOO_IN_PROCESS=1`, as
    /// Swift apps read through the library). libfuzzer-crash-29 to 31 name local headers far past
    /// the file's end in their directories: the directory check let go of the pages behind each
    /// header with MADV_DONTNEED, past the mapping too, zeroing whatever the process had mapped
    /// after it; the error was printed, then the loader failed at exit (status 127), or a debug
    /// build spun for ever.
    @Test(arguments: fuzzed.filter { $0.hasSuffix(".pt") })
    func fuzzedTorchZipsAreExitTwoInProcessToo(file: String) throws {
        let path = Self.fuzzedFolder.appendingPathComponent(file).path
        // No containment here to stop a hang: one of them looped for ever in a debug build.
        let result = try runProcess(
            URL(fileURLWithPath: "/usr/bin/timeout"), ["60", "env", "ZOO_IN_PROCESS=1", zooExecutable.path, "inspect", path])
        #expect(result.status == 2, "\(file): \(result.all)")
        #expect(result.stderr.hasPrefix("error: cannot read \(path) as a checkpoint\n\(path): "), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 2, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    /// Found by Tools/fuzz/mutate.py: libhdf5 1.10.8 loops for ever on this mutated file.
    @Test func aFuzzedFileThatLoopsLibhdf5IsStopped() throws {
        let result = try zooProcess("inspect", fixture("bad_hdf5_hang_fuzzed.h5"), "--timeout", "2")
        #expect(result.status == 2, "\(result.all)")
        #expect(result.stderr.contains("reading took longer than 2 s and was stopped"))
    }

    /// Pictures are decoded contained too; a FIFO is refused as unreadable (or stopped at the
    /// limit), never a hang.
    @Test func aPictureThatBlocksIsNeverAHang() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("hang.png").path
        #expect(mkfifo(path, 0o600) == 0)
        let start = Date()
        let result = try zooProcess("run", "Zoo/digits.h5", "--image", path, "--timeout", "1")
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(result.status == 2, "\(result.all)")
        #expect(result.stderr.hasPrefix("error: \(path): "))
    }

    @Test(arguments: ["bad_hdf5_fault_object_header.h5", "bad_hdf5_fault_global_heap.h5"])
    func aReaderThatCrashesIsExitTwoNamingTheFile(file: String) throws {
        let result = try zooProcess("inspect", fixture(file))
        #expect(result.status == 2, "\(result.all)")
        #expect(result.stderr.hasPrefix("error: cannot read \(fixture(file)) as a checkpoint"))
        // libhdf5 1.10.8 faults on these; a newer one may report an error instead. Either is named.
        #expect(result.stderr.contains("\(fixture(file)): "))
    }

    @Test func theLibrarysContainedReadEqualsTheInProcessRead() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for file in ["Zoo/digits.h5", fixture("encdec_torch_save.pt")] {
            let direct = try CheckpointReader.read(file)
            let contained = try ContainedReading.read(file, timeout: 30, reader: zooExecutable)
            #expect(contained.stateDict == direct.stateDict)
            #expect(contained.manifestText == direct.manifestText)
            #expect(contained.referenceCases == direct.referenceCases)
            #expect(contained.evalSet == direct.evalSet)
            #expect(contained.container == direct.container)
            #expect(contained.layoutNotes == direct.layoutNotes)
            #expect(contained.pickleGlobals == direct.pickleGlobals)
        }
        let error = #expect(throws: CheckpointError.self) {
            try ContainedReading.read(fixture("bad_truncated.h5"), timeout: 30, reader: zooExecutable)
        }
        #expect(error?.description.contains("bad_truncated.h5") == true)
    }

    @Test func nothingFromTheLibrariesReachesStderr() throws {
        for file in ["bad_truncated.h5", "bad_corrupt_extent.h5", "bad_random.h5", "bad_lfs_pointer.h5"] {
            let result = try zooProcess("verify", fixture(file))
            #expect(result.status == 2)
            #expect(!result.stderr.contains("HDF5-DIAG"), "\(file): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").first?.hasPrefix("error: ") == true)
        }
    }
}
