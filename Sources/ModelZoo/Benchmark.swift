import Checkpoint
import Foundation
import NN
import Tensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Timings of eval-mode forward passes, as `zoo bench forward` prints them.
public struct ForwardBenchmarkReport: Sendable, Encodable {
    public var arch: String
    public var batch: Int
    public var inputShape: [Int]
    public var threads: Int
    public var repeats: Int
    public var warmup: Int
    public var minMilliseconds: Double
    public var medianMilliseconds: Double
    public var peakResidentBytes: Int
    /// What memory admission estimated the pass needs (input, activations, weights, workspace).
    public var memoryEstimate: MemoryEstimate

    private enum CodingKeys: String, CodingKey {
        case arch, batch, inputShape = "input_shape", threads, repeats = "repeat", warmup
        case minMilliseconds = "min_ms", medianMilliseconds = "median_ms", peakResidentBytes = "peak_rss_bytes"
        case memoryEstimate = "memory_estimate"
    }
}

/// Timings of reading every tensor of a checkpoint into memory, as `zoo bench load` prints them.
public struct LoadBenchmarkReport: Sendable, Encodable {
    public var path: String
    public var container: CheckpointContainer
    public var tensors: Int
    public var bytes: Int
    public var repeats: Int
    public var minMilliseconds: Double
    public var medianMilliseconds: Double
    /// Tensor bytes over the fastest pass, in GB (10^9 bytes) per second.
    public var gigabytesPerSecond: Double
    public var peakResidentBytes: Int
    /// The largest peak of this process's finished children: the contained read `zoo bench load`
    /// makes first (0 when it read in-process). What the reading child costs.
    public var readerPeakResidentBytes: Int

    private enum CodingKeys: String, CodingKey {
        case path, container, tensors, bytes, repeats = "repeat", minMilliseconds = "min_ms", medianMilliseconds = "median_ms"
        case gigabytesPerSecond = "gb_per_s", peakResidentBytes = "peak_rss_bytes", readerPeakResidentBytes = "reader_peak_rss_bytes"
    }
}

/// One way to time things, shared by the `zoo bench` subcommands.
public enum Benchmark {
    /// Runs `model` in eval mode on a random input (seed 0) `warmup` times, then `repeats` times
    /// timed, with `threads` matrix threads.
    public static func forward(
        _ model: Module, label: String, sampleShape: [Int], batch: Int, repeats: Int, warmup: Int, threads: Int,
        memoryLimit: Int? = nil
    ) throws -> ForwardBenchmarkReport {
        // Refused before the input exists: a batch past memory is an error, not an abort.
        let estimate = try MemoryEstimate(model: model, inputShape: [batch] + sampleShape)
        try MemoryAdmission.admit(estimate, limit: memoryLimit)
        if threads != ComputeThreads.count { ComputeThreads.set(threads) }
        InferenceFusion.apply(to: model)
        var generator = SeededGenerator(seed: 0)
        let shape = [batch] + sampleShape
        let input = Tensor(shape: shape, scalars: generator.uniform(count: shape.reduce(1, *), bound: 1))
        for _ in 0..<warmup { _ = try model(input) }
        let times = try (0..<max(1, repeats)).map { _ in try milliseconds { _ = try model(input) } }.sorted()
        return ForwardBenchmarkReport(
            arch: label, batch: batch, inputShape: shape, threads: ComputeThreads.count, repeats: times.count, warmup: warmup,
            minMilliseconds: times[0], medianMilliseconds: times[times.count / 2], peakResidentBytes: peakResidentBytes(),
            memoryEstimate: estimate)
    }

    /// Reads every tensor of the checkpoint at `path` (any container) `repeats` times.
    public static func load(_ path: String, repeats: Int) throws -> LoadBenchmarkReport {
        var checkpoint: LoadedCheckpoint?
        let times = try (0..<max(1, repeats)).map { _ in
            // Release the previous pass (and the contained read before the first) untimed, back to
            // the kernel: each pass starts as a program loading once would.
            checkpoint = nil
            ActivationMemory.releaseFreedBuffers()
            return try milliseconds { checkpoint = try CheckpointReader.read(path) }
        }.sorted()
        let stateDict = checkpoint?.stateDict ?? StateDict()
        return LoadBenchmarkReport(
            path: path, container: checkpoint?.container ?? .hdf5, tensors: stateDict.count, bytes: stateDict.byteCount,
            repeats: times.count, minMilliseconds: times[0], medianMilliseconds: times[times.count / 2],
            gigabytesPerSecond: Double(stateDict.byteCount) / (times[0] / 1000) / 1e9, peakResidentBytes: peakResidentBytes(),
            readerPeakResidentBytes: peakResidentBytes(ofChildren: true))
    }

    static func milliseconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    /// The process's peak resident memory so far, or with `ofChildren` the largest peak of its
    /// children that have ended (a contained reader's).
    public static func peakResidentBytes(ofChildren: Bool = false) -> Int {
        var usage = rusage()
        #if canImport(Darwin)
            getrusage(ofChildren ? RUSAGE_CHILDREN : RUSAGE_SELF, &usage)
            return Int(usage.ru_maxrss)
        #else
            getrusage((ofChildren ? RUSAGE_CHILDREN : RUSAGE_SELF).rawValue, &usage)
            return Int(usage.ru_maxrss) * 1024  // Linux counts kilobytes.
        #endif
    }
}
