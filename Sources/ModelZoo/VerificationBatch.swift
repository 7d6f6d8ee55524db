import Checkpoint
import NN
import Tensor

/// How one verified file came out, ordered from best to worst.
public enum VerificationStatus: Sendable, Comparable, Encodable {
    /// Everything that was checked holds.
    case passed
    /// The file was read, and a check failed.
    case failed
    /// The file was read but cannot be run: a forward pass needed more memory than it may use,
    /// or its program calls an operator zoo does not run.
    case cannotRun
    /// The file could not be read as a checkpoint.
    case unreadable

    /// The `zoo` command's exit code for it: 0, 1 for a failed check, 2 for a file or a workload
    /// that cannot be used.
    public var exitCode: Int32 {
        switch self {
        case .passed: 0
        case .failed: 1
        case .cannotRun, .unreadable: 2
        }
    }
}

/// One file's result among several: its report, or why it could not be read.
public enum VerificationOutcome: Encodable {
    case report(VerificationReport)
    case unreadable(path: String, error: CheckpointError)

    public var path: String {
        switch self {
        case .report(let report): report.path
        case .unreadable(let path, _): path
        }
    }

    public var status: VerificationStatus {
        switch self {
        case .report(let report): report.cannotRun ? .cannotRun : report.passed ? .passed : .failed
        case .unreadable: .unreadable
        }
    }

    /// The one line that says why the file could not be read.
    public static func unreadableMessage(path: String) -> String { "cannot read \(path) as a checkpoint" }

    private enum CodingKeys: String, CodingKey { case path, passed, error }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .report(let report): try report.encode(to: encoder)
        case .unreadable(let path, _):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(path, forKey: .path)
            try container.encode(false, forKey: .passed)
            try container.encode(Self.unreadableMessage(path: path), forKey: .error)
        }
    }
}

extension Verifier {
    /// Reads and verifies every file, on every core at once; the outcomes are in the order of
    /// `paths`. A file that cannot be read is an outcome too, so one bad file never hides the others.
    public static func verify(
        files paths: [String], reading: FileReading, options: VerificationOptions = VerificationOptions()
    ) -> [VerificationOutcome] {
        mapInParallel(paths) { path -> VerificationOutcome in
            do throws(CheckpointError) {
                // A .pt2's program is parsed before its tensors are read, and its text let go.
                let (checkpoint, program) = try reading.checkpointAndProgram(at: path)
                return .report(verify(checkpoint, program: program, options: options))
            } catch {
                return .unreadable(path: path, error: error)
            }
        }
    }
}

extension VerificationReport {
    /// True when a forward pass was not run for want of memory, or the file's program calls an
    /// operator zoo does not run.
    public var cannotRun: Bool {
        if case NNError.unsupportedOperator? = resolutionFailure { return true }
        return references.contains { if case .insufficientMemory = $0.failure { true } else { false } }
    }
}

extension Sequence<VerificationOutcome> {
    /// The worst status among the outcomes (``VerificationStatus/passed`` for none).
    public var worstStatus: VerificationStatus { map(\.status).max() ?? .passed }
}
