import Tensor

/// Everything read from a checkpoint file, normalised to canonical keys.
public struct LoadedCheckpoint: Sendable {
    public var path: String
    public var stateDict: StateDict
    public var manifest: Manifest?
    public var referenceCases: [ReferenceCase]
    /// How the file was laid out and what was normalised, one human sentence each
    /// (e.g. "stripped the 'module.' prefix from every key").
    public var layoutNotes: [String]
    /// Canonical key -> the key the file stored it under, where they differ.
    public var storedKeys: [String: String]
    /// The kind of file it was read from.
    public var container: CheckpointContainer = .hdf5
    /// For torch.save files: the globals the pickle named, in order (all of them allowed).
    public var pickleGlobals: [String] = []
    /// For safetensors: `__metadata__` beyond what zoo keeps its own manifest in.
    public var metadata: [String: String] = [:]
    /// The held-out examples the file proves its accuracy on (`__eval__`), when it has them.
    public var evalSet: EvalSet?
    /// The manifest's JSON exactly as stored (a signature covers these bytes).
    public var manifestText: String?
    /// The `__signature__` record's JSON, when the file is signed.
    public var signatureText: String?
    /// For torch.export archives (`.pt2`): the program's JSON (`models/<name>.json`), which
    /// NN's `ExportedProgram` runs.
    public var programText: String?
    /// The example inputs the program was exported with, by position: a `.pt2`'s
    /// `data/sample_inputs`, kept by `zoo convert` as `__sample_inputs__`. Inputs only: what zoo
    /// computes from them proves nothing, so they are never paired with outputs of zoo's own.
    public var sampleInputs: [Tensor] = []

    public init(
        path: String, stateDict: StateDict, manifest: Manifest?, referenceCases: [ReferenceCase], layoutNotes: [String],
        storedKeys: [String: String]
    ) {
        self.path = path
        self.stateDict = stateDict
        self.manifest = manifest
        self.referenceCases = referenceCases
        self.layoutNotes = layoutNotes
        self.storedKeys = storedKeys
    }
}
