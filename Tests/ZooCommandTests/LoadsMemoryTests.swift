import Foundation
import TestSupport
import Testing

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

/// Runs `executable` (output discarded) under a small Python process and returns its exit status
/// and the peak resident memory of it and of the children it waited for (its reading child):
/// RUSAGE_CHILDREN's ru_maxrss, exact and blind to the processes other tests start meanwhile.
/// Not spawned from the test runner itself: a child started with vfork (posix_spawn) counts the
/// memory it shared with its parent until exec in its peak, and the runner holds hundreds of MiB.
private func peakResidentBytes(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, bytes: Int) {
    let script = """
        import resource, subprocess, sys
        status = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
        """
    let result = try runPythonScript(script, [executable.path] + arguments)
    let fields = result.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    guard result.status == 0, fields.count == 2 else { throw POSIXError(.EIO) }
    return (Int32(fields[0]), fields[1])
}
