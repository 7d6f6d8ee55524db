import JSON
import Tensor

/// A torch.export program (the ExportedProgram JSON of a `.pt2` archive, `models/<name>.json`)
/// as zoo runs it: the graph's inputs, its nodes in order, its outputs, and the shapes PyTorch
/// recorded for every value (sizes or, where the program was exported with dynamic shapes,
/// expressions over the input's free sizes).
public struct ExportedProgram: Sendable {
    /// An integer argument that is either written in the program or computed by an earlier node
    /// (`sym_size`, `_operator.floordiv`, ...) when the program has dynamic shapes.
    public enum SymbolicInt: Sendable, Equatable {
        case constant(Int)
        case name(String)
    }

    /// One argument of a node, as the schema spells it (`as_tensor`, `as_ints`, ...).
    public enum Argument: Sendable, Equatable {
        case tensor(String)
        case tensors([String])
        case int(Int)
        case ints([Int])
        case float(Double)
        case floats([Double])
        case bool(Bool)
        case symbolicInt(SymbolicInt)
        case symbolicInts([SymbolicInt])
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
    /// Every tensor's recorded shape (each size a constant or an expression over the input's
    /// free sizes) and dtype.
    public var shapes: [String: [ShapeExpression]]
    public var dtypes: [String: DType]
    /// The integers a dynamic program computes, with the expressions PyTorch recorded for them.
    public var symbolicIntegers: [String: ShapeExpression]
    /// The input's shape in the example it was exported with (the recorded hint for a free size).
    public var exampleInputShape: [Int]
    /// The names of the outputs when the model returns a dict (`{"out": ..., "aux": ...}` for
    /// torchvision's segmentation models), from the program's output tree; nil otherwise.
    public var outputNames: [String]?
    /// The smallest and largest value each free size may take (`range_constraints`).
    public var sizeRanges: [String: ClosedRange<Int>]

    /// Parses the program's JSON; throws ``NNError/invalidProgram(reason:)`` naming what is missing.
    public init(json: JSONValue) throws {
        var records = Records()
        for (index, spec) in (json["graph_module"]?["signature"]?["input_specs"]?.arrayValue ?? []).enumerated() {
            records.addInput(spec, at: index)
        }
        for (name, meta) in json["graph_module"]?["graph"]?["tensor_values"]?.objectValue ?? [:] {
            records.addValue(meta, named: name)
        }
        try self.init(json: json, records: records)
    }

    /// The input specs and the recorded tensor values: thousands of records in a program of many
    /// weights (one each per weight), read one at a time into what ``ExportedProgram`` keeps of
    /// them. What is wrong with a record is kept until ``init(json:records:)`` throws it, in the
    /// order a whole tree's checks go.
    private struct Records {
        var stateInputs: [StateInput] = []
        var userInputs: [String] = []
        /// The first input of a kind zoo does not run.
        var inputProblem: NNError?
        var shapes: [String: [ShapeExpression]] = [:]
        var dtypes: [String: DType] = [:]
        /// The example's sizes of the values whose sizes are not all integers (`as_expr`'s hint);
        /// a value of integer sizes is its own example.
        var hints: [String: [Int]] = [:]
        /// Values whose sizes cannot be read, by name (the last record of a name counts).
        var valueProblems: [String: Error] = [:]

        mutating func addInput(_ spec: JSONValue, at index: Int) {
            // A repeated `input_specs` starts again, as the last of a repeated key is what a tree keeps.
            if index == 0 { (stateInputs, userInputs, inputProblem) = ([], [], nil) }
            guard inputProblem == nil else { return }
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
                inputProblem = NNError.invalidProgram(
                    reason: "an input of kind \(kind), which zoo does not run (constants, custom objects)")
            }
        }

        mutating func addValue(_ meta: JSONValue, named name: String) {
            let sizes = meta["sizes"]?.arrayValue ?? []
            do {
                shapes[name] = try sizes.map { try ExportedProgram.size($0, of: name) }
                valueProblems[name] = nil
            } catch {
                valueProblems[name] = error
                shapes[name] = nil
            }
            dtypes[name] = ExportedProgram.dtypes[Int(meta["dtype"]?.intValue ?? 7)]
            if sizes.allSatisfy({ $0["as_int"]?.intValue != nil }) {
                hints[name] = nil
            } else {
                hints[name] = sizes.map { size in size["as_int"]?.intValue ?? size["as_expr"]?["hint"]?["as_int"]?.intValue ?? 1 }
            }
        }

        /// The example's sizes of the value `name`.
        func exampleSizes(of name: String) -> [Int] {
            if let hint = hints[name] { return hint }
            return (shapes[name] ?? []).map { if case .constant(let value) = $0 { value } else { 1 } }
        }
    }

    /// The program from its tree (without input specs and tensor values, when they were handed on
    /// as they were read) and its records.
    private init(json: JSONValue, records: Records) throws {
        let module = json["graph_module"]
        guard let graph = module?["graph"], module?["signature"]?["input_specs"]?.arrayValue != nil else {
            throw NNError.invalidProgram(reason: "no graph_module.graph or input_specs")
        }
        if let problem = records.inputProblem { throw problem }
        stateInputs = records.stateInputs
        userInputs = records.userInputs
        nodes = try (graph["nodes"]?.arrayValue ?? []).map { node in
            guard let target = node["target"]?.stringValue else { throw NNError.invalidProgram(reason: "a node without a target") }
            let arguments = (node["inputs"]?.arrayValue ?? []).map { input in
                (input["name"]?.stringValue ?? "", Self.argument(input["arg"]))
            }
            let outputs = (node["outputs"]?.arrayValue ?? []).flatMap { output -> [String] in
                if let name = output["as_tensor"]?["name"]?.stringValue { return [name] }
                if let name = output["as_sym_int"]?["as_name"]?.stringValue { return [name] }
                // An output PyTorch does not keep (`as_none`) holds its place with an empty name.
                return (output["as_tensors"]?.arrayValue ?? []).map { $0["name"]?.stringValue ?? "" }
            }
            return Node(
                target: target.replacingOccurrences(of: "torch.ops.", with: ""), name: node["name"]?.stringValue ?? target,
                arguments: arguments, outputs: outputs)
        }
        outputs = (graph["outputs"]?.arrayValue ?? []).compactMap { $0["as_tensor"]?["name"]?.stringValue }
        if let problem = records.valueProblems.min(by: { $0.key < $1.key }) { throw problem.value }
        shapes = records.shapes
        dtypes = records.dtypes
        exampleInputShape = records.exampleSizes(of: userInputs.first ?? "")
        outputNames = Self.dictionaryKeys(module?["module_call_graph"]?.arrayValue?.first?["signature"]?["out_spec"]?.stringValue)
        symbolicIntegers = [:]
        for (name, value) in graph["sym_int_values"]?.objectValue ?? [:] {
            symbolicIntegers[name] = try Self.size(value, of: name)
        }
        sizeRanges = [:]
        for (symbol, range) in json["range_constraints"]?.objectValue ?? [:] {
            let low = range["min_val"]?.intValue ?? 0
            let high = range["max_val"]?.intValue ?? Int.max
            if low <= high { sizeRanges[symbol] = low...high }
        }
        guard userInputs.count == 1 else {
            throw NNError.invalidProgram(reason: "\(userInputs.count) user inputs; zoo runs programs of one input tensor")
        }
        guard !outputs.isEmpty else { throw NNError.invalidProgram(reason: "no tensor output") }
    }

    /// One recorded size: `as_int`, or `as_expr` with sympy's text (unreadable text is refused,
    /// naming the value, rather than guessed).
    private static func size(_ json: JSONValue, of name: String) throws -> ShapeExpression {
        if let value = json["as_int"]?.intValue { return .constant(value) }
        if let text = json["as_expr"]?["expr_str"]?.stringValue {
            guard let expression = ShapeExpression(srepr: text) else {
                throw NNError.invalidProgram(reason: "the size '\(text)' of '\(name)', which zoo cannot evaluate")
            }
            return expression
        }
        throw NNError.invalidProgram(reason: "a size of '\(name)' that is neither an integer nor an expression")
    }

    /// The keys of a dict output in torch's serialized tree spec (`[1, {"type": "builtins.dict",
    /// "context": "[\"out\"]", ...}]`).
    private static func dictionaryKeys(_ spec: String?) -> [String]? {
        guard let spec, let tree = try? JSONValue.parse(spec), let node = tree.arrayValue?.last,
            node["type"]?.stringValue == "builtins.dict", let context = node["context"]?.stringValue,
            let keys = try? JSONValue.parse(context)
        else { return nil }
        return keys.arrayValue?.compactMap(\.stringValue)
    }

    private static func symbolicInt(_ json: JSONValue) -> SymbolicInt? {
        if let value = json["as_int"]?.intValue { return .constant(value) }
        return json["as_name"]?.stringValue.map(SymbolicInt.name)
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
        case "as_sym_int": return symbolicInt(value).map(Argument.symbolicInt) ?? .other(kind)
        case "as_sym_ints":
            let values = (value.arrayValue ?? []).compactMap(symbolicInt)
            return values.count == value.arrayValue?.count ? .symbolicInts(values) : .other(kind)
        case "as_none": return .none
        default: return .other(kind)
        }
    }

    /// torch.export's ScalarType codes that zoo's dtypes match.
    static let dtypes: [Int: DType] = [
        1: .uint8, 2: .int8, 3: .int16, 4: .int32, 5: .int64, 6: .float16, 7: .float32, 8: .float64, 12: .bool, 13: .bfloat16,
    ]
}

extension ExportedProgram.Argument {
    /// The values (tensors or computed integers) the argument refers to by name.
    var valueNames: [String] {
        switch self {
        case .tensor(let name): return [name]
        case .tensors(let names): return names
        case .symbolicInt(.name(let name)): return [name]
        case .symbolicInts(let values):
            return values.compactMap { if case .name(let name) = $0 { name } else { nil } }
        default: return []
        }
    }
}

extension ExportedProgram {
    /// What ``init(json:)`` reads of a program, for JSON's `JSONValue.parse(_:keeping:)`: the rest
    /// (each value's strides, device, layout, ...) is checked as JSON but never becomes a tree of
    /// values, which for a program of many weights took several times its text.
    public static let jsonPaths: [[String]] = [
        ["graph_module", "graph", "nodes"], ["graph_module", "graph", "outputs"], ["graph_module", "graph", "sym_int_values"],
        ["graph_module", "graph", "tensor_values", "*", "sizes"], ["graph_module", "graph", "tensor_values", "*", "dtype"],
        ["graph_module", "signature", "input_specs"], ["graph_module", "module_call_graph", "signature", "out_spec"],
        ["range_constraints"],
    ]

    /// The collections of records ``init(text:)`` reads one at a time, as the parser hands them
    /// on: the input specs and the recorded tensor values, one each per weight.
    static let handedPaths: [[String]] = [["graph_module", "signature", "input_specs"], ["graph_module", "graph", "tensor_values"]]

    /// Parses the program's JSON text for what ``init(json:)`` reads (``jsonPaths``): the same
    /// program, and the same errors for text that is not JSON. The input specs and tensor values
    /// become what the program keeps of them one record at a time, never a tree: for 20,000
    /// weights that tree took 19 MiB, three times the text.
    public init(text: String) throws {
        var records = Records()
        let json = try JSONValue.parse(text, keeping: Self.jsonPaths, handingEach: Self.handedPaths) { collection, key, value in
            if collection == 0 {
                records.addInput(value, at: Int(key) ?? 0)
            } else {
                records.addValue(value, named: key)
            }
        }
        // Tensor values in an array (no program's) are none to a tree's reader, so none here either.
        if json["graph_module"]?["graph"]?["tensor_values"]?.arrayValue != nil {
            (records.shapes, records.dtypes, records.hints, records.valueProblems) = ([:], [:], [:], [:])
        }
        try self.init(json: json, records: records)
    }
}
