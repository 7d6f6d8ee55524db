import Tensor

/// The kind of file a checkpoint was read from, recognised by content, never by extension.
public enum CheckpointContainer: String, Sendable, Codable, CaseIterable {
    /// zoo's home format (and any h5py export of a state_dict).
    case hdf5 = "HDF5 v1"
    /// `torch.save` since PyTorch 1.6: a zip of `data.pkl` and one entry per storage.
    case torchZip = "torch zip"
    /// `torch.save` before 1.6, or with `_use_new_zipfile_serialization=False`: one stream.
    case torchLegacy = "torch legacy"
    /// The `safetensors` package's format.
    case safetensors
    /// `torch.export.save`: a zip of the exported program (`models/<name>.json`) and its weights.
    case pt2 = "torch.export pt2"
}

/// What one container's reader found, before the layout is normalised (DataParallel prefix,
/// missing BatchNorm counters) the same way for every container.
struct RawCheckpoint {
    var container: CheckpointContainer
    var entries: [(String, Tensor)]
    var manifest: Manifest?
    var referenceCases: [ReferenceCase] = []
    var evalSet: EvalSet?
    /// The manifest exactly as the file stores it: what a signature covers.
    var manifestText: String?
    /// The `__signature__` JSON, when the file is signed.
    var signature: String?
    var notes: [String] = []
    /// The globals a torch pickle named, in order.
    var pickleGlobals: [String] = []
    /// safetensors' `__metadata__`, without the fields zoo stores its manifest in.
    var metadata: [String: String] = [:]
    /// A torch.export program's JSON.
    var programText: String?
    /// The example inputs a program was exported with (a `.pt2`'s `data/sample_inputs`, or
    /// `__sample_inputs__` in zoo's formats).
    var sampleInputs: [Tensor] = []
}

/// One container format behind the shared reading interface: a new format is a new type
/// conforming to this, registered in ``CheckpointReader``, not a branch in every command.
protocol CheckpointContainerReader: Sendable {
    static var container: CheckpointContainer { get }
    /// Reads every tensor of the file at `path`, each state_dict tensor handed to `sink` as it is
    /// read; throws ``CheckpointError`` naming the file.
    static func read(_ path: String, sink: TensorSink) throws(CheckpointError) -> RawCheckpoint
}

extension CheckpointContainerReader {
    /// Reads every tensor of the file at `path`, keeping them all.
    static func read(_ path: String) throws(CheckpointError) -> RawCheckpoint { try read(path, sink: .keepAll) }
}
