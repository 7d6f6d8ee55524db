import Synchronization
import Tensor

/// What one tensor is, without its values: what `zoo inspect` shows of it.
struct TensorFacts: Sendable {
    var shape: [Int]
    var dtype: DType
    var count: Int
    /// Over its little-endian bytes, when the file has a manifest to compare it with.
    var sha256: String?
}

/// What takes a program's text off a read (``CheckpointReader/read(_:takingProgram:)``).
public typealias ProgramTaker = @Sendable (String) throws(CheckpointError) -> Void

/// Where a reader puts each state_dict tensor it has read.
///
/// ``keepAll`` keeps them: a read. A facts-only sink (``CheckpointReader/inspect(_:)``) notes each
/// tensor's facts and gives the reader an empty tensor of the same dtype to keep in its place,
/// so that the read holds one tensor at a time instead of all of them: for 20,000 tensors of
/// 1 KiB the reading child then peaks at what the format's reader needs beside the tensors.
/// Readers call it from any thread (the torch zip reader reads on several).
final class TensorSink: Sendable {
    static let keepAll = TensorSink(keepsTensors: true)

    let keepsTensors: Bool
    /// Where a `.pt2`'s program text goes, before any weight is read, when it should not stay in
    /// the checkpoint (``CheckpointReader/read(_:takingProgram:)``).
    let program: ProgramTaker?
    private let state = Mutex(State())

    private struct State: Sendable {
        /// By the key the reader found the tensor under; a repeated key keeps its last facts, as
        /// `StateDict` keeps its last value.
        var facts: [String: TensorFacts] = [:]
        var hashes = false
    }

    init(keepsTensors: Bool, program: ProgramTaker? = nil) {
        self.keepsTensors = keepsTensors
        self.program = program
    }

    /// Said by a reader that found a manifest before any tensor (HDF5, safetensors; torch files
    /// have none): checksums are then worth their time, and computed while each tensor is here.
    /// A sink that keeps the tensors notes nothing: ``keepAll`` is one instance that every read
    /// shares, so it must never be written.
    func expectChecksums() {
        guard !keepsTensors else { return }
        state.withLock { $0.hashes = true }
    }

    /// What the reader keeps under `key`: `tensor` itself, or its empty stand-in once its facts
    /// are noted.
    func take(_ tensor: Tensor, key: String) -> Tensor {
        if keepsTensors { return tensor }
        let hashes = state.withLock { $0.hashes }
        let facts = TensorFacts(shape: tensor.shape, dtype: tensor.dtype, count: tensor.count, sha256: hashes ? tensor.sha256 : nil)
        state.withLock { $0.facts[key] = facts }
        return Tensor(zeros: [0], dtype: tensor.dtype)
    }

    /// The facts noted so far, by the key each tensor was read under.
    var facts: [String: TensorFacts] { state.withLock { $0.facts } }
}
