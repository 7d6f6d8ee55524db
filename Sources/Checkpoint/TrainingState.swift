import JSON
import Tensor

/// What a training run needs to continue beside the weights, as `zoo train` writes it and
/// `zoo_h5.load_training` reads it: one JSON document, stored as the string dataset
/// `__training__` of an HDF5 file or under the `__training__` key of a safetensors
/// `__metadata__` (see the format page, "Training state").
///
/// Its `optimizer` object is PyTorch's `optimizer.state_dict()`: `state` maps each parameter's
/// index (in `named_parameters()` order, as a string) to its tensors (`step`, `exp_avg`,
/// `exp_avg_sq`, `max_exp_avg_sq`, `momentum_buffer`), and `param_groups` holds every
/// hyper-parameter with `params: [0, 1, ...]`. A tensor is `{"dtype", "shape", "data"}`, the data
/// base64 of its little-endian bytes, as the format's reference vectors.
public struct TrainingState: Sendable, Equatable {
    /// The key (HDF5 dataset name, safetensors metadata key) the state is stored under.
    public static let key = "__training__"

    public var json: JSONValue

    public init(json: JSONValue) { self.json = json }

    /// Reads the state a checkpoint carries, nil when it carries none.
    public init?(_ checkpoint: LoadedCheckpoint) throws(CheckpointError) {
        guard let text = checkpoint.metadata[Self.key] else { return nil }
        do { json = try JSONValue.parse(text) } catch {
            throw .invalidManifest(path: checkpoint.path, reason: "\(Self.key) is not JSON (\(error))")
        }
    }

    /// A tensor in the state's JSON form.
    public static func encode(_ tensor: Tensor) -> JSONValue { ReferenceVectorJSON.json(tensor) }

    /// The tensor a state's JSON form describes; `path` names the file in errors.
    public static func decode(_ value: JSONValue, path: String) throws(CheckpointError) -> Tensor {
        try ReferenceVectorJSON.tensor(value, path: path)
    }
}
