import Foundation
import Synchronization
import Tensor

/// How many threads forward passes use: oneDNN's OpenMP team for convolutions and matrix
/// products, and as many of zoo's own for the column copies (im2col, col2im) of the cases
/// oneDNN does not run.
public enum ComputeThreads {
    /// `OMP_NUM_THREADS` when set to a positive number (as PyTorch honours it), else every core.
    private static let configured = Atomic<Int>(defaultCount)

    /// `OMP_NUM_THREADS` when set to a positive number (as PyTorch honours it), else every core.
    private static var defaultCount: Int {
        if let value = ProcessInfo.processInfo.environment["OMP_NUM_THREADS"].flatMap({ Int($0) }), value > 0 { return value }
        return ProcessInfo.processInfo.activeProcessorCount
    }

    public static var count: Int { configured.load(ordering: .relaxed) }

    /// Sets the thread count; values below 1 are taken as 1.
    public static func set(_ count: Int) {
        configured.store(Swift.max(1, count), ordering: .relaxed)
    }

    /// OpenMP keeps the team size per calling thread, so each thread that calls oneDNN sets it.
    static func applyToThisThread() {
        OpenMP.setThreads?(Int32(count))
    }
}
