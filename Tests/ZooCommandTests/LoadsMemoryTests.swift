import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 19's memory bound, through the binary as users run it: `zoo inspect` of a file of two
/// 64 MiB tensors peaks within 1.3x the tensors' bytes + 40 MiB, in the `zoo` process and in its
/// reading child alike (the hand-back used to hold them twice: the scratch file's pages mapped
/// beside the copies). A memory bound, measured exactly (wait4's ru_maxrss), not a timing.
@Suite("LoadsMemory")
struct LoadsMemoryTests {
    static let writer =
        pythonArrayWriter + """
            import sys
            import numpy as np
            rng = np.random.default_rng(19)
            write(sys.argv[1], {f"layer{i}.weight": rng.standard_normal(2**24, dtype=np.float32) for i in range(2)})
            """

    @Test(arguments: ["h5", "safetensors"])
    func inspectOfTwoBigTensorsStaysWithinTheBound(kind: String) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("big.\(kind)").path
        let written = try runPythonScript(Self.writer, [path])
        try #require(written.status == 0, "python3 failed: \(written.stderr)")
        let (status, peak) = try peakResidentBytes(zooExecutable, ["inspect", path])
        #expect(status == 0)
        let tensorBytes = 2 * 4 * (1 << 24)
        let bound = 1.3 * Double(tensorBytes) + 40 * 1_048_576
        #expect(Double(peak) <= bound, "peak RSS \(peak >> 20) MiB for \(tensorBytes >> 20) MiB of tensors, bound \(Int(bound) >> 20) MiB")
    }
}

/// Runs `executable` (output discarded) and returns its exit status and the peak resident memory
/// of it and of the children it waited for (its reading child), from wait4: exact, and blind to
/// the processes other tests start meanwhile.
private func peakResidentBytes(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, bytes: Int) {
    let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, environ)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS, which Swift does not import: a signal is reported as 128 + it.
    let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return (code, Int(usage.ru_maxrss) * 1024)
}
