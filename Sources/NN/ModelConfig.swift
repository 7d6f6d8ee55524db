import JSON
import Tensor

/// Builds a ``Sequential`` from format v1's `model_config`:
/// `{"layers": [{"type": "Conv2d", "name": "0", "in_channels": 3, ...}, ...]}`.
///
/// Types are PyTorch class names and arguments PyTorch's constructor keywords with PyTorch's
/// defaults; ints and pairs are accepted wherever PyTorch takes either. `name` is the layer's
/// state_dict prefix (defaulting to the layer's index). Unknown types or arguments are errors
/// naming them.
public enum ModelConfig {
    /// The layer types a config may use: the PyTorch class names of its factory table.
    public static let supportedTypes = factories.map(\.type)

    public static func build(_ config: JSONValue) throws -> Sequential {
        guard let layers = config["layers"]?.arrayValue else {
            throw NNError.invalidConfig(reason: "expected an object with a \"layers\" array")
        }
        var named: [(String, Module)] = []
        var seen = Set<String>()
        for (index, layer) in layers.enumerated() {
            guard let fields = layer.objectValue, let type = fields["type"]?.stringValue else {
                throw NNError.invalidConfig(reason: "layer \(index) needs a string \"type\"")
            }
            let arguments = LayerArguments(type: type, index: index, fields: fields)
            let name = try arguments.string("name", default: String(index))
            guard seen.insert(name).inserted else {
                throw NNError.invalidConfig(reason: "layer \(index): name '\(name)' is used twice")
            }
            guard let factory = factoriesByType[type] else { throw NNError.unknownLayerType(type: type, index: index) }
            try arguments.allow(factory.arguments)
            named.append((name, try factory.make(arguments)))
        }
        return Sequential(named: named)
    }

    private static let factoriesByType = Dictionary(uniqueKeysWithValues: factories.map { ($0.type, $0) })

    /// Every layer a config may use, by PyTorch class name: the constructor keywords it accepts
    /// and how it is built from them.
    private static let factories: [LayerFactory] = [
        LayerFactory(
            "Conv2d", ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias", "padding_mode"]
        ) { a in
            let modeName = try a.string("padding_mode", default: "zeros")
            guard let mode = PaddingMode(rawValue: modeName) else {
                throw NNError.invalidArgument(
                    layer: "Conv2d", argument: "padding_mode", reason: "'\(modeName)' is not one of zeros, reflect, replicate, circular")
            }
            return try Conv2d(
                inChannels: a.int("in_channels"), outChannels: a.int("out_channels"), kernelSize: a.pair("kernel_size"),
                stride: a.pair("stride", default: 1), padding: a.padding(), dilation: a.pair("dilation", default: 1),
                groups: a.int("groups", default: 1), bias: a.bool("bias", default: true), paddingMode: mode)
        },
        LayerFactory(
            "ConvTranspose2d",
            [
                "in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "groups", "bias", "dilation",
                "padding_mode",
            ]
        ) { a in
            guard try a.string("padding_mode", default: "zeros") == "zeros" else {
                throw NNError.invalidArgument(
                    layer: "ConvTranspose2d", argument: "padding_mode", reason: "only 'zeros' padding mode is supported")
            }
            return try ConvTranspose2d(
                inChannels: a.int("in_channels"), outChannels: a.int("out_channels"), kernelSize: a.pair("kernel_size"),
                stride: a.pair("stride", default: 1), padding: a.pair("padding", default: 0),
                outputPadding: a.pair("output_padding", default: 0), groups: a.int("groups", default: 1),
                bias: a.bool("bias", default: true), dilation: a.pair("dilation", default: 1))
        },
        LayerFactory("MaxPool2d", ["kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"]) { a in
            try a.refuseReturnIndices()
            return try MaxPool2d(
                kernelSize: a.pair("kernel_size"), stride: a.optionalPair("stride"), padding: a.pair("padding", default: 0),
                dilation: a.pair("dilation", default: 1), ceilMode: a.bool("ceil_mode", default: false))
        },
        LayerFactory("AvgPool2d", ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]) { a in
            try AvgPool2d(
                kernelSize: a.pair("kernel_size"), stride: a.optionalPair("stride"), padding: a.pair("padding", default: 0),
                ceilMode: a.bool("ceil_mode", default: false), countIncludePad: a.bool("count_include_pad", default: true),
                divisorOverride: a.optionalInt("divisor_override"))
        },
        LayerFactory("AdaptiveAvgPool2d", ["output_size"]) { a in AdaptiveAvgPool2d(outputSize: try a.adaptiveSize()) },
        LayerFactory("AdaptiveMaxPool2d", ["output_size", "return_indices"]) { a in
            try a.refuseReturnIndices()
            return AdaptiveMaxPool2d(outputSize: try a.adaptiveSize())
        },
        LayerFactory("BatchNorm2d", ["num_features", "eps", "momentum", "affine", "track_running_stats"]) { a in
            try BatchNorm2d(
                numFeatures: a.int("num_features"), eps: a.double("eps", default: 1e-5),
                momentum: a.has("momentum") ? a.optionalDouble("momentum") : 0.1,
                affine: a.bool("affine", default: true), trackRunningStats: a.bool("track_running_stats", default: true))
        },
        LayerFactory("Linear", ["in_features", "out_features", "bias"]) { a in
            try Linear(inFeatures: a.int("in_features"), outFeatures: a.int("out_features"), bias: a.bool("bias", default: true))
        },
        LayerFactory("Flatten", ["start_dim", "end_dim"]) { a in
            Flatten(startDim: try a.int("start_dim", default: 1), endDim: try a.int("end_dim", default: -1))
        },
        LayerFactory("ReLU", ["inplace"]) { _ in ReLU() },
        LayerFactory("LeakyReLU", ["negative_slope", "inplace"]) { a in
            LeakyReLU(negativeSlope: try a.double("negative_slope", default: 0.01))
        },
        LayerFactory("Sigmoid", []) { _ in Sigmoid() },
        LayerFactory("Tanh", []) { _ in Tanh() },
        LayerFactory("Softplus", ["beta", "threshold"]) { a in
            Softplus(beta: try a.double("beta", default: 1), threshold: try a.double("threshold", default: 20))
        },
        LayerFactory("Dropout", ["p", "inplace"]) { a in try Dropout(p: a.double("p", default: 0.5)) },
        LayerFactory("Identity", []) { _ in Identity() },
        LayerFactory("Upsample", ["size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"]) { a in
            let modeName = try a.string("mode", default: "nearest")
            guard let mode = Upsample.Mode(rawValue: modeName) else {
                throw NNError.invalidArgument(
                    layer: "Upsample", argument: "mode", reason: "'\(modeName)' is not supported (nearest, bilinear)")
            }
            if try a.bool("recompute_scale_factor", default: false) {
                throw NNError.invalidArgument(
                    layer: "Upsample", argument: "recompute_scale_factor", reason: "only the default (None/False) is supported")
            }
            return try Upsample(
                size: a.optionalPair("size"), scaleFactor: a.optionalScale("scale_factor"), mode: mode,
                alignCorners: a.optionalBool("align_corners"))
        },
    ]
}

/// One entry of ``ModelConfig``'s table: a PyTorch class, the keywords its constructor takes
/// here, and how the layer is built from them.
private struct LayerFactory: Sendable {
    let type: String
    let arguments: Set<String>
    let make: @Sendable (LayerArguments) throws -> Module

    init(_ type: String, _ arguments: Set<String>, make: @escaping @Sendable (LayerArguments) throws -> Module) {
        self.type = type
        self.arguments = arguments
        self.make = make
    }
}

/// Typed access to one layer's config fields, with errors that name the layer and argument.
private struct LayerArguments {
    let type: String
    let index: Int
    let fields: [String: JSONValue]

    func has(_ key: String) -> Bool { fields[key] != nil }

    /// Max pooling returns values only here: indices would be a second output, which a Sequential
    /// cannot pass on; MaxPool2d and AdaptiveMaxPool2d refuse them alike.
    func refuseReturnIndices() throws {
        if try bool("return_indices", default: false) {
            throw NNError.invalidArgument(
                layer: type, argument: "return_indices", reason: "returning indices is not supported in a Sequential")
        }
    }

    func allow(_ keys: Set<String>) throws {
        let allowed = keys.union(["type", "name"])
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw NNError.unknownArgument(layer: type, argument: unknown, index: index)
        }
    }

    private func invalid(_ key: String, _ expected: String) -> NNError {
        .invalidArgument(
            layer: "\(type) (model_config layer \(index))", argument: key,
            reason: "expected \(expected), got \(fields[key].map(\.description) ?? "nothing")")
    }

    func value(_ key: String) -> JSONValue? {
        guard let value = fields[key], value != .null else { return nil }
        return value
    }

    func int(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let value = value(key) else {
            if let fallback { return fallback }
            throw NNError.invalidArgument(layer: "\(type) (model_config layer \(index))", argument: key, reason: "required")
        }
        guard let int = value.intValue else { throw invalid(key, "an integer") }
        return int
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard value(key) != nil else { return nil }
        return try int(key)
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        try optionalBool(key) ?? fallback
    }

    func optionalBool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard let bool = value.boolValue else { throw invalid(key, "true or false") }
        return bool
    }

    func double(_ key: String, default fallback: Double) throws -> Double {
        try optionalDouble(key) ?? fallback
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let value = value(key) else { return nil }
        guard let double = value.doubleValue else { throw invalid(key, "a number") }
        return double
    }

    func string(_ key: String, default fallback: String) throws -> String {
        guard let value = value(key) else { return fallback }
        guard let string = value.stringValue else { throw invalid(key, "a string") }
        return string
    }

    func pair(_ key: String, default fallback: IntPair? = nil) throws -> IntPair {
        guard let pair = try optionalPair(key) else {
            if let fallback { return fallback }
            throw NNError.invalidArgument(layer: "\(type) (model_config layer \(index))", argument: key, reason: "required")
        }
        return pair
    }

    func optionalPair(_ key: String) throws -> IntPair? {
        guard let value = value(key) else { return nil }
        if let int = value.intValue { return IntPair(int, int) }
        if let items = value.arrayValue, items.count == 2, let h = items[0].intValue, let w = items[1].intValue { return IntPair(h, w) }
        throw invalid(key, "an integer or a pair of integers")
    }

    func optionalScale(_ key: String) throws -> (height: Double, width: Double)? {
        guard let value = value(key) else { return nil }
        if let double = value.doubleValue { return (double, double) }
        if let items = value.arrayValue, items.count == 2, let h = items[0].doubleValue, let w = items[1].doubleValue { return (h, w) }
        throw invalid(key, "a number or a pair of numbers")
    }

    func padding() throws -> Padding2d {
        if let text = value("padding")?.stringValue {
            switch text {
            case "same": return .same
            case "valid": return .valid
            default: throw invalid("padding", "an integer, a pair, \"same\" or \"valid\"")
            }
        }
        return .explicit(try pair("padding", default: 0))
    }

    func adaptiveSize() throws -> AdaptiveOutputSize {
        guard let value = value("output_size") else { throw invalid("output_size", "an integer or a pair") }
        if let int = value.intValue { return AdaptiveOutputSize(int) }
        if let items = value.arrayValue, items.count == 2 {
            let parts = try items.map { item -> Int? in
                if item == .null { return nil }
                guard let int = item.intValue else { throw invalid("output_size", "integers or null") }
                return int
            }
            return AdaptiveOutputSize(height: parts[0], width: parts[1])
        }
        throw invalid("output_size", "an integer or a pair")
    }
}
