/// What the recorded shapes of a program become for one input: the free sizes bound from the
/// input's shape, and every value's shape evaluated from them before anything is computed.
extension ExportedProgram {
    /// The input's shape as the program records it, symbolic sizes written by their symbol.
    public var inputShapeDescription: String {
        let sizes = shapes[userInputs[0]] ?? []
        return "["
            + sizes.map { size in if case .constant(let value) = size { "\(value)" } else { "\(size.symbols.sorted().joined())" } }
            .joined(separator: ", ") + "]"
    }

    /// Binds the program's free sizes from `inputShape`; throws ``NNError/inputShape(layer:expected:got:)``
    /// when the rank, a fixed size or a size's allowed range disagrees, as PyTorch's guards would.
    public func sizeBindings(for inputShape: [Int]) throws -> [String: Int] {
        let recorded = shapes[userInputs[0]] ?? []
        let mismatch = { (why: String) in
            NNError.inputShape(layer: "torch.export program", expected: "\(inputShapeDescription) (\(why))", got: inputShape)
        }
        guard recorded.count == inputShape.count else { throw mismatch("rank \(recorded.count)") }
        var bindings: [String: Int] = [:]
        for (size, actual) in zip(recorded, inputShape) {
            if case .symbol(let name) = size {
                if let bound = bindings[name], bound != actual { throw mismatch("\(name) takes one value") }
                if let range = sizeRanges[name], !range.contains(actual) {
                    throw mismatch("\(name) from \(range.lowerBound) to \(range.upperBound == Int.max ? "any" : "\(range.upperBound)")")
                }
                bindings[name] = actual
            }
        }
        for (axis, (size, actual)) in zip(recorded, inputShape).enumerated() where size.evaluate(bindings) != actual {
            throw mismatch("axis \(axis) is fixed")
        }
        return bindings
    }

    /// The shape of the value `name` under `bindings`, nil when the program records none or a size
    /// uses a function zoo cannot evaluate.
    public func shape(of name: String, bindings: [String: Int]) -> [Int]? {
        guard let sizes = shapes[name] else { return nil }
        let values = sizes.compactMap { $0.evaluate(bindings) }
        return values.count == sizes.count ? values : nil
    }

    /// The fixed shape of a parameter or buffer.
    public func stateShape(of name: String) -> [Int]? { shape(of: name, bindings: [:]) }
}
