import JSON
import Tensor

/// What the manifest records about one tensor.
public struct TensorRecord: Sendable, Equatable {
    public var dtype: String
    public var shape: [Int]
    public var sha256: String?

    public init(dtype: String, shape: [Int], sha256: String?) {
        self.dtype = dtype
        self.shape = shape
        self.sha256 = sha256
    }

    public init(describing tensor: Tensor) {
        self.init(dtype: tensor.dtype.rawValue, shape: tensor.shape, sha256: tensor.sha256)
    }
}

/// The `__manifest__` JSON of a format v1 file. Only `format_version` is required; fields this
/// version does not know are kept in ``extra`` and written back unchanged.
public struct Manifest: Sendable, Equatable {
    public static let formatName = "zoo-checkpoint"
    public static let currentVersion = 1

    public var formatVersion: Int
    public var arch: String?
    public var archArgs: [String: JSONValue]
    public var modelConfig: JSONValue?
    public var tensors: [String: TensorRecord]
    public var producer: String?
    /// torchvision transforms that turn a picture into the model's input (see `Preprocess`).
    public var preprocess: JSONValue?
    /// Label strings, index = output index.
    public var classes: [String]?
    /// What the checkpoint achieves, e.g. `{"accuracy": 0.975, "eval_set": "__eval__"}`.
    public var metrics: [String: JSONValue]?
    public var extra: [String: JSONValue]
    /// The torch.export program a `.pt2` file carried (its ExportedProgram JSON, stack traces and
    /// file paths dropped), so that the model runs from this file alone (`torch_export_program`).
    public var program: JSONValue?

    public init(
        arch: String? = nil, archArgs: [String: JSONValue] = [:], modelConfig: JSONValue? = nil,
        producer: String? = nil
    ) {
        self.formatVersion = Manifest.currentVersion
        self.arch = arch
        self.archArgs = archArgs
        self.modelConfig = modelConfig
        self.tensors = [:]
        self.producer = producer
        self.extra = [:]
    }

    /// The accuracy the manifest claims, when it claims one.
    public var claimedAccuracy: Double? { metrics?["accuracy"]?.doubleValue }

    private static let knownFields: Set<String> = [
        "format", "format_version", "arch", "arch_args", "model_config", "tensors", "producer", "preprocess", "classes", "metrics",
        "torch_export_program",
    ]

    /// Parses manifest JSON; `path` only names the file in errors.
    public init(json text: String, path: String) throws(CheckpointError) {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch {
            throw .invalidManifest(path: path, reason: "not JSON (\(error))")
        }
        guard let object = value.objectValue else {
            throw .invalidManifest(path: path, reason: "expected a JSON object")
        }
        guard let version = object["format_version"]?.intValue else {
            throw .invalidManifest(path: path, reason: "no integer format_version")
        }
        guard version <= Manifest.currentVersion, version >= 1 else {
            throw .invalidManifest(
                path: path, reason: "format_version \(version) is newer than this zoo reads (\(Manifest.currentVersion)); update zoo")
        }
        formatVersion = version
        arch = object["arch"]?.stringValue
        archArgs = object["arch_args"]?.objectValue ?? [:]
        modelConfig = object["model_config"].flatMap { $0 == .null ? nil : $0 }
        producer = object["producer"]?.stringValue
        preprocess = object["preprocess"].flatMap { $0 == .null ? nil : $0 }
        if let list = object["classes"], list != .null {
            guard let names = list.arrayValue?.compactMap(\.stringValue), names.count == list.arrayValue?.count else {
                throw .invalidManifest(path: path, reason: "classes must be a list of strings")
            }
            classes = names
        }
        if let values = object["metrics"], values != .null {
            guard let fields = values.objectValue else { throw .invalidManifest(path: path, reason: "metrics must be an object") }
            metrics = fields
        }
        tensors = [:]
        for (key, record) in object["tensors"]?.objectValue ?? [:] {
            guard let dtype = record["dtype"]?.stringValue,
                let shape = record["shape"]?.arrayValue?.compactMap(\.intValue)
            else {
                throw .invalidManifest(path: path, reason: "tensors['\(key)'] needs dtype and shape")
            }
            tensors[key] = TensorRecord(dtype: dtype, shape: shape, sha256: record["sha256"]?.stringValue)
        }
        program = object["torch_export_program"].flatMap { $0 == .null ? nil : $0 }
        extra = object.filter { !Manifest.knownFields.contains($0.key) }
    }

    public var json: JSONValue {
        var object = extra
        object["format"] = .string(Manifest.formatName)
        object["format_version"] = .int(Int64(formatVersion))
        if let arch { object["arch"] = .string(arch) }
        if !archArgs.isEmpty || arch != nil { object["arch_args"] = .object(archArgs) }
        if let modelConfig { object["model_config"] = modelConfig }
        if let producer { object["producer"] = .string(producer) }
        if let preprocess { object["preprocess"] = preprocess }
        if let classes { object["classes"] = .array(classes.map(JSONValue.string)) }
        if let metrics { object["metrics"] = .object(metrics) }
        if let program { object["torch_export_program"] = program }
        object["tensors"] = .object(
            tensors.mapValues { record in
                var fields: [String: JSONValue] = [
                    "dtype": .string(record.dtype), "shape": .array(record.shape.map { .int(Int64($0)) }),
                ]
                if let sha = record.sha256 { fields["sha256"] = .string(sha) }
                return .object(fields)
            })
        return .object(object)
    }
}
