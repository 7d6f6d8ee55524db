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
    public var tensors: [Entry]
    public var manifest: Manifest?
    public var layout: [String]
    public var referenceVectors: Int
    public var totals: Totals

    public init(_ checkpoint: LoadedCheckpoint) {
        path = checkpoint.path
        tensors = checkpoint.stateDict.map { key, tensor in
            Entry(
                key: key, shape: tensor.shape, dtype: tensor.dtype, bytes: tensor.count * tensor.dtype.byteCount,
                checksum: IntegrityReport.checksumState(
                    of: tensor, key: key, manifest: checkpoint.manifest, storedKeys: checkpoint.storedKeys))
        }
        manifest = checkpoint.manifest
        layout = checkpoint.layoutNotes
        referenceVectors = checkpoint.referenceCases.count
        totals = Totals(
            tensors: checkpoint.stateDict.count, elements: checkpoint.stateDict.elementCount, bytes: checkpoint.stateDict.byteCount)
    }

    private enum CodingKeys: String, CodingKey {
        case path, tensors, manifest, layout, referenceVectors = "reference_vectors", totals
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(tensors, forKey: .tensors)
        try container.encode(manifest?.json ?? .null, forKey: .manifest)
        try container.encode(layout, forKey: .layout)
        try container.encode(referenceVectors, forKey: .referenceVectors)
        try container.encode(totals, forKey: .totals)
    }
}
