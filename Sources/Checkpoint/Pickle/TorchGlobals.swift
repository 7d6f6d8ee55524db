import Tensor

/// A storage's element type, from the global a pickle names it by: the `torch.FloatStorage`
/// family of old files and the `torch.float32` form of new ones.
struct TorchStorageType {
    var name: String
    var dtype: DType

    private static let byName: [String: DType] = [
        "torch.FloatStorage": .float32, "torch.DoubleStorage": .float64, "torch.HalfStorage": .float16,
        "torch.BFloat16Storage": .bfloat16, "torch.LongStorage": .int64, "torch.IntStorage": .int32,
        "torch.ShortStorage": .int16, "torch.CharStorage": .int8, "torch.ByteStorage": .uint8, "torch.BoolStorage": .bool,
        "torch.float32": .float32, "torch.float": .float32, "torch.float64": .float64, "torch.double": .float64,
        "torch.float16": .float16, "torch.half": .float16, "torch.bfloat16": .bfloat16, "torch.int64": .int64,
        "torch.long": .int64, "torch.int32": .int32, "torch.int": .int32, "torch.int16": .int16, "torch.short": .int16,
        "torch.int8": .int8, "torch.uint8": .uint8, "torch.bool": .bool,
    ]

    init?(global name: String) {
        guard let dtype = Self.byName[name] else { return nil }
        self.name = name
        self.dtype = dtype
    }

    /// True for a name of PyTorch's storage or dtype families that zoo has no dtype for
    /// (complex, quantised, unsigned wider than 8 bits, float8): refused with its name.
    static func isUnsupportedTorchType(_ name: String) -> Bool {
        name.hasPrefix("torch.")
            && (name.hasSuffix("Storage")
                || ["complex", "qint", "quint", "uint16", "uint32", "uint64", "float8"]
                    .contains { name.dropFirst("torch.".count).hasPrefix($0) })
    }
}

/// What `torch.load(weights_only=True)` lets a weights file name, and nothing else.
enum TorchGlobals {
    static let orderedDict = "collections.OrderedDict"
    static let rebuildTensorV2 = "torch._utils._rebuild_tensor_v2"
    static let rebuildTensor = "torch._utils._rebuild_tensor"
    static let rebuildParameter = "torch._utils._rebuild_parameter"
    static let rebuildParameterWithState = "torch._utils._rebuild_parameter_with_state"

    /// Globals that may be called or named; storage and dtype names are checked separately.
    static let callable: Set<String> = [orderedDict, rebuildTensorV2, rebuildTensor, rebuildParameter, rebuildParameterWithState]

    /// Python 2 spellings of builtin modules that old pickles use.
    static func canonical(module: String, name: String) -> String {
        let module = module == "__builtin__" ? "builtins" : module
        return "\(module).\(name)"
    }

    static func isAllowed(_ global: String) -> Bool {
        callable.contains(global) || TorchStorageType(global: global) != nil
    }
}
