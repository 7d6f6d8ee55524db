import Tensor

/// A torch.export program run as a layer: its parameters and buffers are this module's state
/// under their state_dict names, and its forward interprets the graph node by node on zoo's
/// layers and kernels (the operator table in `GraphOperators.swift`).
///
/// The program is static-shaped, as `torch.export.export` records it: the input must have the
/// shape of the example it was exported with, as the program's own guards require in PyTorch.
public final class GraphModule: ModuleBase, Layer {
    public let program: ExportedProgram
    private let stateNames: [String: String]
    /// The layers the nodes run on, made from the current weights on first use.
    private var layers: [Int: Module] = [:]
    /// The nodes as they run: fused, with the values each one is the last to read (GraphFusion.swift).
    private let fused: GraphFusion.Plan

    public init(program: ExportedProgram) throws {
        self.program = program
        var slots: [StateSlot] = []
        var stateNames: [String: String] = [:]
        for input in program.stateInputs {
            guard let shape = program.shapes[input.argument] else {
                throw NNError.invalidProgram(reason: "no shape recorded for \(input.stateName)")
            }
            let dtype = program.dtypes[input.argument] ?? .float32
            slots.append(
                input.isParameter
                    ? StateSlot(name: input.stateName, kind: .parameter, shape: shape, dtype: dtype, initialisation: .constant(0))
                    : StateSlot(name: input.stateName, kind: .buffer, shape: shape, dtype: dtype, initialisation: .constant(0)))
            stateNames[input.argument] = input.stateName
        }
        self.stateNames = stateNames
        fused = GraphFusion.plan(program)
        super.init(state: slots)
        // Every operator is checked now, so that an unknown one is named before any data is read.
        for node in program.nodes where GraphOperators.table[node.target] == nil {
            throw NNError.unsupportedOperator(target: node.target, node: node.name)
        }
    }

    public override func stateDidChange() { layers.removeAll() }

    /// The ATen operators zoo runs in a program, sorted (the README lists these; a test keeps
    /// the two equal).
    public static var supportedOperators: [String] { GraphOperators.table.keys.sorted() }

    public func forward(_ input: Tensor) throws -> Tensor {
        let expected = program.shapes[program.userInputs[0]] ?? []
        guard input.shape == expected else {
            throw NNError.inputShape(layer: "torch.export program", expected: "the exported shape \(expected)", got: input.shape)
        }
        var values: [String: Tensor] = [program.userInputs[0]: input]
        for (slot, input) in zip(stateSlots, program.stateInputs) { values[input.argument] = self[slot] }
        for (index, node) in fused.nodes.enumerated() {
            guard let operation = GraphOperators.table[node.target] ?? GraphFusion.table[node.target] else {
                throw NNError.unsupportedOperator(target: node.target, node: node.name)
            }
            let call = GraphCall(node: node, values: values, stateNames: stateNames, cached: layers[index])
            let (outputs, layer) = try operation(call)
            if let layer { layers[index] = layer }
            for (name, value) in zip(node.outputs, outputs) { values[name] = value }
            for name in fused.lastUses[index] { values[name] = nil }
        }
        guard let output = values[program.outputs[0]] else {
            throw NNError.invalidProgram(reason: "the output \(program.outputs[0]) is never computed")
        }
        return output
    }

    public func outputShape(for shape: [Int]) throws -> [Int] {
        let expected = program.shapes[program.userInputs[0]] ?? []
        guard shape == expected else {
            throw NNError.inputShape(layer: "torch.export program", expected: "the exported shape \(expected)", got: shape)
        }
        return program.shapes[program.outputs[0]] ?? []
    }

    /// The input and every value the graph computes (a bound: values die as their last user runs).
    public func activationBytes(for shape: [Int]) throws -> Int {
        _ = try outputShape(for: shape)
        let computed = program.nodes.flatMap(\.outputs).compactMap { program.shapes[$0] }
        return saturatingSum(float32Bytes(shape), computed.map(float32Bytes).reduce(0) { saturatingSum($0, $1) })
    }
}
