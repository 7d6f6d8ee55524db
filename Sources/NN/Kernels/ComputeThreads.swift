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

    /// Kernels of fewer multiply-adds than this run on the calling thread alone: waking the
    /// team and meeting it at the barrier costs more than the other thread would save (several
    /// microseconds when the cores are idle, a scheduler slice when other processes hold them).
    static let serialMultiplyAdds: Int =
        ProcessInfo.processInfo.environment["ZOO_SERIAL_WORK"].flatMap { Int($0) } ?? (1 << 22)

    /// OpenMP keeps the team size per calling thread, so each thread that calls oneDNN sets it:
    /// the whole team, or one thread for a kernel of fewer than ``serialMultiplyAdds``. A oneDNN
    /// primitive sizes its work split when it is made, so it is made and run with the same size.
    static func applyToThisThread(multiplyAdds: Int = .max) {
        OpenMP.setThreads?(Int32(multiplyAdds < serialMultiplyAdds ? 1 : count))
    }
}
