import JSON
import Tensor

/// What `zoo inspect` shows of a checkpoint: every tensor with its checksum state, the
/// manifest, how the layout was normalised, and totals.
public struct InspectReport: Sendable, Encodable {
    public struct Entry: Sendable, Encodable {
        public var key: String
        public var shape: [Int]
        public var dtype: DType
        public var bytes: Int
        public var checksum: ChecksumState
    }

    public struct Totals: Sendable, Encodable {
        public var tensors: Int
        public var elements: Int
        public var bytes: Int
    }

    public var path: String
    /// The kind of file: HDF5 v1, torch zip, torch legacy, safetensors.
    public var container: CheckpointContainer
    /// For torch.save files, the globals the pickle named (every one allowed, or it was refused).
    public var pickleGlobals: [String]
    /// safetensors' `__metadata__` beyond zoo's own fields.
    public var metadata: [String: String]
    public var tensors: [Entry]
    /// The fingerprint of the key that signed the file (not checked here; `zoo verify` checks).
    public var signer: String?
    public var manifest: Manifest?
    public var layout: [String]
    public var referenceVectors: Int
    /// The program's sample inputs (a `.pt2`'s `data/sample_inputs`, or `__sample_inputs__`).
    public var sampleInputs: [SampleInput]
    public var totals: Totals

    public struct SampleInput: Sendable, Encodable {
        public var shape: [Int]
        public var dtype: DType
    }

    public init(_ checkpoint: LoadedCheckpoint) {
        path = checkpoint.path
        container = checkpoint.container
        pickleGlobals = checkpoint.pickleGlobals
        metadata = checkpoint.metadata
        signer = checkpoint.signatureText.flatMap { try? SignatureRecord(json: $0) }?.fingerprint
        tensors = checkpoint.stateDict.map { key, tensor in
            Entry(
                key: key, shape: tensor.shape, dtype: tensor.dtype, bytes: tensor.count * tensor.dtype.byteCount,
                checksum: IntegrityReport.checksumState(
                    of: tensor, key: key, manifest: checkpoint.manifest, storedKeys: checkpoint.storedKeys))
        }
        manifest = checkpoint.manifest
        layout = checkpoint.layoutNotes
        referenceVectors = checkpoint.referenceCases.count
        sampleInputs = checkpoint.sampleInputs.map { SampleInput(shape: $0.shape, dtype: $0.dtype) }
        totals = Totals(
            tensors: checkpoint.stateDict.count, elements: checkpoint.stateDict.elementCount, bytes: checkpoint.stateDict.byteCount)
    }

    private enum CodingKeys: String, CodingKey {
        case path, container, pickleGlobals = "pickle_globals", metadata, signer, tensors, manifest, layout
        case referenceVectors = "reference_vectors", sampleInputs = "sample_inputs", totals
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(self.container, forKey: .container)
        if !pickleGlobals.isEmpty { try container.encode(pickleGlobals, forKey: .pickleGlobals) }
        if !metadata.isEmpty { try container.encode(metadata, forKey: .metadata) }
        try container.encodeIfPresent(signer, forKey: .signer)
        try container.encode(tensors, forKey: .tensors)
        try container.encode(manifest?.json ?? .null, forKey: .manifest)
        try container.encode(layout, forKey: .layout)
        try container.encode(referenceVectors, forKey: .referenceVectors)
        if !sampleInputs.isEmpty { try container.encode(sampleInputs, forKey: .sampleInputs) }
        try container.encode(totals, forKey: .totals)
    }
}
