import JSON
import Tensor

/// A torch.export program (the ExportedProgram JSON of a `.pt2` archive, `models/<name>.json`)
/// as zoo runs it: the graph's inputs, its nodes in order, its outputs, and the static shapes
/// PyTorch recorded for every value.
public struct ExportedProgram: Sendable {
    /// One argument of a node, as the schema spells it (`as_tensor`, `as_ints`, ...).
    public enum Argument: Sendable, Equatable {
        case tensor(String)
        case tensors([String])
        case int(Int)
        case ints([Int])
        case float(Double)
        case floats([Double])
        case bool(Bool)
        case none
        case other(String)
    }

    public struct Node: Sendable {
        /// The operator, `aten.conv2d.default`.
        public var target: String
        public var name: String
        public var arguments: [(name: String, value: Argument)]
        public var outputs: [String]

        public func argument(_ name: String, at index: Int) -> Argument? {
            arguments.first { $0.name == name }?.value ?? (index < arguments.count ? arguments[index].value : nil)
        }
    }

    /// A parameter or buffer: the graph's name for it and its state_dict name.
    public struct StateInput: Sendable {
        public var argument: String
        public var stateName: String
        public var isParameter: Bool
    }

    public var stateInputs: [StateInput]
    public var userInputs: [String]
    public var nodes: [Node]
    public var outputs: [String]
    /// Every value's recorded shape and dtype.
    public var shapes: [String: [Int]]
    public var dtypes: [String: DType]

    /// Parses the program's JSON; throws ``NNError/invalidProgram(reason:)`` naming what is missing.
    public init(json: JSONValue) throws {
        let module = json["graph_module"]
        guard let graph = module?["graph"], let specs = module?["signature"]?["input_specs"]?.arrayValue else {
            throw NNError.invalidProgram(reason: "no graph_module.graph or input_specs")
        }
        stateInputs = []
        userInputs = []
        for spec in specs {
            if let parameter = spec["parameter"], let argument = parameter["arg"]?["name"]?.stringValue,
                let name = parameter["parameter_name"]?.stringValue
            {
                stateInputs.append(StateInput(argument: argument, stateName: name, isParameter: true))
            } else if let buffer = spec["buffer"], let argument = buffer["arg"]?["name"]?.stringValue,
                let name = buffer["buffer_name"]?.stringValue
            {
                stateInputs.append(StateInput(argument: argument, stateName: name, isParameter: false))
            } else if let input = spec["user_input"]?["arg"]?["as_tensor"]?["name"]?.stringValue {
                userInputs.append(input)
            } else {
                let kind = spec.objectValue?.keys.sorted().joined(separator: ", ") ?? "?"
                throw NNError.invalidProgram(reason: "an input of kind \(kind), which zoo does not run (constants, custom objects)")
            }
        }
        nodes = try (graph["nodes"]?.arrayValue ?? []).map { node in
            guard let target = node["target"]?.stringValue else { throw NNError.invalidProgram(reason: "a node without a target") }
            let arguments = (node["inputs"]?.arrayValue ?? []).map { input in
                (input["name"]?.stringValue ?? "", Self.argument(input["arg"]))
            }
            let outputs = (node["outputs"]?.arrayValue ?? []).flatMap { output -> [String] in
                if let name = output["as_tensor"]?["name"]?.stringValue { return [name] }
                return (output["as_tensors"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            }
            return Node(
                target: target.replacingOccurrences(of: "torch.ops.", with: ""), name: node["name"]?.stringValue ?? target,
                arguments: arguments, outputs: outputs)
        }
        outputs = (graph["outputs"]?.arrayValue ?? []).compactMap { $0["as_tensor"]?["name"]?.stringValue }
        shapes = [:]
        dtypes = [:]
        for (name, meta) in graph["tensor_values"]?.objectValue ?? [:] {
            shapes[name] = (meta["sizes"]?.arrayValue ?? []).map { Int($0["as_int"]?.intValue ?? -1) }
            dtypes[name] = Self.dtypes[Int(meta["dtype"]?.intValue ?? 7)]
        }
        guard userInputs.count == 1 else {
            throw NNError.invalidProgram(reason: "\(userInputs.count) user inputs; zoo runs programs of one input tensor")
        }
        guard !outputs.isEmpty else { throw NNError.invalidProgram(reason: "no tensor output") }
    }

    private static func argument(_ json: JSONValue?) -> Argument {
        guard let json, let (kind, value) = json.objectValue?.first else { return .none }
        switch kind {
        case "as_tensor": return value["name"]?.stringValue.map(Argument.tensor) ?? .other(kind)
        case "as_tensors": return .tensors((value.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
        case "as_int": return value.intValue.map(Argument.int) ?? .other(kind)
        case "as_ints": return .ints((value.arrayValue ?? []).compactMap(\.intValue))
        case "as_float": return .float(value.doubleValue ?? value.intValue.map { Double($0) } ?? 0)
        case "as_floats": return .floats((value.arrayValue ?? []).compactMap { $0.doubleValue ?? $0.intValue.map { Double($0) } })
        case "as_bool": return .bool(value.boolValue ?? false)
        case "as_none": return .none
        default: return .other(kind)
        }
    }

    /// torch.export's ScalarType codes that zoo's dtypes match.
    static let dtypes: [Int: DType] = [
        1: .uint8, 2: .int8, 3: .int16, 4: .int32, 5: .int64, 6: .float16, 7: .float32, 8: .float64, 12: .bool, 13: .bfloat16,
    ]
}
