import JSON
import Tensor

/// What `zoo inspect` shows of a checkpoint: every tensor with its checksum state, the
/// manifest, how the layout was normalised, and totals.
public struct InspectReport: Sendable, Encodable {
    public struct Entry: Sendable, Codable {
        public var key: String
        public var shape: [Int]
        public var dtype: DType
        public var bytes: Int
        public var checksum: ChecksumState
    }

    public struct Totals: Sendable, Codable {
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
    /// The manifest exactly as stored, for handing the report from a reading child to its parent.
    var manifestText: String?

    public struct SampleInput: Sendable, Codable {
        public var shape: [Int]
        public var dtype: DType
    }

    public init(_ checkpoint: LoadedCheckpoint) {
        self.init(checkpoint, facts: [:])
    }

    /// The report of a checkpoint whose tensors were read through a facts-only ``TensorSink``:
    /// they are empty stand-ins, and `facts` (by the key the file stored each under) says what
    /// they were. A tensor without facts holds its values: every tensor of a full read, and one
    /// the reader added (a `num_batches_tracked` filled for old PyTorch).
    init(_ checkpoint: LoadedCheckpoint, facts: [String: TensorFacts]) {
        path = checkpoint.path
        container = checkpoint.container
        pickleGlobals = checkpoint.pickleGlobals
        metadata = checkpoint.metadata
        signer = checkpoint.signatureText.flatMap { try? SignatureRecord(json: $0) }?.fingerprint
        var elements = 0
        tensors = checkpoint.stateDict.map { key, tensor in
            let found =
                facts[checkpoint.storedKeys[key] ?? key]
                ?? TensorFacts(
                    shape: tensor.shape, dtype: tensor.dtype, count: tensor.count,
                    sha256: checkpoint.manifest?.record(for: key, storedKeys: checkpoint.storedKeys)?.sha256 == nil ? nil : tensor.sha256)
            elements += found.count
            return Entry(
                key: key, shape: found.shape, dtype: found.dtype, bytes: found.count * found.dtype.byteCount,
                checksum: IntegrityReport.checksumState(
                    sha256: found.sha256, key: key, manifest: checkpoint.manifest, storedKeys: checkpoint.storedKeys))
        }
        manifest = checkpoint.manifest
        manifestText = checkpoint.manifestText
        layout = checkpoint.layoutNotes
        referenceVectors = checkpoint.referenceCases.count
        sampleInputs = checkpoint.sampleInputs.map { SampleInput(shape: $0.shape, dtype: $0.dtype) }
        totals = Totals(tensors: tensors.count, elements: elements, bytes: tensors.reduce(0) { $0 + $1.bytes })
    }

    /// The report as a reading child hands it back (``ContainedReading/inspect(_:timeout:reader:)``):
    /// everything but the manifest as it is, the manifest as its text.
    struct Transfer: Codable, Sendable {
        var container: CheckpointContainer
        var pickleGlobals: [String]
        var metadata: [String: String]
        var tensors: [Entry]
        var signer: String?
        var manifestText: String?
        var layout: [String]
        var referenceVectors: Int
        var sampleInputs: [SampleInput]
        var totals: Totals
    }

    var transfer: Transfer {
        Transfer(
            container: container, pickleGlobals: pickleGlobals, metadata: metadata, tensors: tensors, signer: signer,
            manifestText: manifestText, layout: layout, referenceVectors: referenceVectors, sampleInputs: sampleInputs, totals: totals)
    }

    /// The report a reading child handed back for the file at `path`.
    init(_ transfer: Transfer, path: String) throws(CheckpointError) {
        self.path = path
        container = transfer.container
        pickleGlobals = transfer.pickleGlobals
        metadata = transfer.metadata
        tensors = transfer.tensors
        signer = transfer.signer
        manifestText = transfer.manifestText
        manifest = try transfer.manifestText.map { text throws(CheckpointError) in try Manifest(json: text, path: path) }
        layout = transfer.layout
        referenceVectors = transfer.referenceVectors
        sampleInputs = transfer.sampleInputs
        totals = transfer.totals
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
