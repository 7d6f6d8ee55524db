import Containment
import HDF5

/// Why a file could not be read or written as a checkpoint. Every case names the file and,
/// where there is one, the key; HDF5's failures keep HDF5's own error, numbers included, so that
/// callers can match on them:
///
/// ```swift
/// catch CheckpointError.hdf5(let path, let underlying) where underlying.kind == .cannotOpenFile { ... }
/// ```
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is no checkpoint zoo reads (HDF5, torch.save, safetensors); `what` says what it
    /// looks like instead.
    case notACheckpoint(path: String, what: String)
    /// The file names something a weights file does not need (a pickled model, a call to
    /// `posix.system`): refused before anything is built, nothing executed.
    case refused(path: String, Refusal)
    /// The file contradicts itself or ends early (a truncated archive, a storage shorter than its
    /// tensor, a safetensors header whose ranges overlap).
    case damaged(path: String, reason: String)
    /// HDF5 failed; `underlying` carries its operation, object path, innermost message and numbers.
    case hdf5(path: String, underlying: HDF5Error)
    case unsupportedElementType(path: String, key: String, found: String)
    case invalidManifest(path: String, reason: String)
    case invalidTensor(path: String, key: String, reason: String)
    case invalidReferenceVectors(path: String, reason: String)
    /// No tensors, and no manifest `arch` or `model_config` to say that the model has none.
    case emptyCheckpoint(path: String)
    case invalidKey(key: String, reason: String)
    case writeFailed(path: String, reason: String)
    /// The contained reader (a child process doing `task` on the file at `path`) failed, crashed
    /// or ran out of time.
    case contained(path: String, task: ContainedRequest.Task, failure: ContainmentFailure)

    public var description: String {
        switch self {
        case .notACheckpoint(let path, let what): return "\(path): not a checkpoint: \(what)"
        case .refused(let path, let refusal): return "\(path): \(refusal)"
        case .damaged(let path, let reason): return "\(path): damaged: \(reason)"
        case .hdf5(let path, let underlying): return "\(path): \(underlying)"
        case .unsupportedElementType(let path, let key, let found):
            return "\(path): tensor '\(key)' has element type \(found), which no PyTorch state_dict dtype matches"
        case .invalidManifest(let path, let reason): return "\(path): invalid __manifest__: \(reason)"
        case .invalidTensor(let path, let key, let reason): return "\(path): tensor '\(key)': \(reason)"
        case .invalidReferenceVectors(let path, let reason): return "\(path): invalid __tests__: \(reason)"
        case .emptyCheckpoint(let path):
            return "\(path): the file holds no tensors, and no manifest arch or model_config describes a model without any"
        case .invalidKey(let key, let reason): return "cannot store key '\(key)': \(reason)"
        case .writeFailed(let path, let reason): return "cannot write \(path): \(reason)"
        case .contained(let path, let task, let failure): return Self.describe(failure, path: path, task: task)
        }
    }

    /// The reader child's failure in words; a whole read says more than a manifest-only one.
    private static func describe(_ failure: ContainmentFailure, path: String, task: ContainedRequest.Task) -> String {
        let whole = task != .readManifest
        switch failure {
        case .cannotStart(let executable, let reason): return "cannot start the reader process \(executable): \(reason)"
        case .timedOut(let seconds):
            return "\(path): reading took longer than \(Int(seconds)) s and was stopped"
                + (whole ? "; the file may be crafted to hang the reader" : "")
        case .crashed(let signal):
            return "\(path): the reader crashed (signal \(signal)) on this file"
                + (whole ? "; it is damaged or crafted, and nothing was loaded" : "")
        case .failed(_, let message): return message.isEmpty ? "\(path): the reader failed" : message
        case .incompleteAnswer: return "\(path): the reader's \(task == .readCheckpoint ? "transfer file" : "answer") is incomplete"
        case .malformedRequest(let argument): return "not a contained-read request: \(argument)"
        case .cannotWriteAnswer(let output, let reason): return "cannot write \(output): \(reason)"
        }
    }
}
