import HDF5
import JSON
import Tensor

/// Held-out examples a checkpoint proves its accuracy on: group `__eval__` with `inputs`
/// (N x C x H x W float32, already preprocessed), `labels` (N, int64) and `predictions`
/// (N, int64: PyTorch's argmax on these inputs).
public struct EvalSet: Sendable, Equatable {
    public var inputs: Tensor
    public var labels: [Int64]
    public var predictions: [Int64]

    public init(inputs: Tensor, labels: [Int64], predictions: [Int64]) {
        self.inputs = inputs
        self.labels = labels
        self.predictions = predictions
    }

    public var count: Int { labels.count }
}

enum EvalSetIO {
    static let groupName = "__eval__"

    static func read(_ group: HDF5Group, path: String) throws -> EvalSet {
        let inputs = try TensorIO.read(try group.openDataset("inputs"), key: "__eval__/inputs", path: path)
        let labels = try TensorIO.read(try group.openDataset("labels"), key: "__eval__/labels", path: path)
        let predictions = try TensorIO.read(try group.openDataset("predictions"), key: "__eval__/predictions", path: path)
        return try make(inputs: inputs, labels: labels, predictions: predictions, path: path)
    }

    static func make(inputs: Tensor, labels: Tensor, predictions: Tensor, path: String) throws(CheckpointError) -> EvalSet {
        let count = inputs.shape.first ?? 0
        guard inputs.rank >= 2, labels.shape == [count], predictions.shape == [count], !labels.dtype.isFloatingPoint,
            !predictions.dtype.isFloatingPoint
        else {
            throw .invalidReferenceVectors(
                path: path,
                reason: "__eval__ needs inputs (N, ...) and integer labels and predictions of shape (N); found inputs \(inputs.shape), "
                    + "labels \(labels.shape) \(labels.dtype), predictions \(predictions.shape) \(predictions.dtype)")
        }
        return EvalSet(
            inputs: inputs.converted(to: .float32), labels: labels.storage.doubles().map { Int64($0) },
            predictions: predictions.storage.doubles().map { Int64($0) })
    }

    static func write(_ set: EvalSet, into root: HDF5Group) throws {
        let group = try root.createGroup(groupName)
        try TensorIO.write(set.inputs, key: "inputs", into: group)
        try TensorIO.write(try Tensor(shape: [set.count], storage: .int64(set.labels)), key: "labels", into: group)
        try TensorIO.write(try Tensor(shape: [set.count], storage: .int64(set.predictions)), key: "predictions", into: group)
    }

    /// The set as one JSON string, for safetensors' `__metadata__` (base64 little-endian bytes).
    static func encode(_ set: EvalSet) -> String {
        JSONValue.object([
            "inputs": ReferenceVectorJSON.json(set.inputs),
            "labels": .array(set.labels.map { .int($0) }),
            "predictions": .array(set.predictions.map { .int($0) }),
        ]).serialized()
    }

    static func decode(_ text: String, path: String) throws(CheckpointError) -> EvalSet {
        guard let value = try? JSONValue.parse(text), let inputs = value["inputs"],
            let labels = value["labels"]?.arrayValue?.compactMap(\.intValue),
            let predictions = value["predictions"]?.arrayValue?.compactMap(\.intValue)
        else { throw .invalidReferenceVectors(path: path, reason: "zoo_eval is not an eval set") }
        let tensor = try ReferenceVectorJSON.tensor(inputs, path: path)
        guard tensor.rank >= 2, tensor.shape[0] == labels.count, labels.count == predictions.count else {
            throw .invalidReferenceVectors(path: path, reason: "zoo_eval's inputs, labels and predictions differ in length")
        }
        return EvalSet(inputs: tensor.converted(to: .float32), labels: labels.map(Int64.init), predictions: predictions.map(Int64.init))
    }
}
