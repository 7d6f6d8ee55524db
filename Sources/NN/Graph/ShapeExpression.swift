/// A size a torch.export program records symbolically (`as_expr`): the `expr_str` PyTorch writes
/// with sympy's `srepr`, such as `Add(Symbol('s53', positive=True, integer=True), Integer(-1))`.
///
/// A program exported with dynamic batch or picture sizes names each free size a symbol (`s77`);
/// every other size is an expression over those symbols. zoo binds the symbols from the input's
/// shape and evaluates the expressions, so that it knows every value's shape (for memory
/// admission and the shape check of each node) before it computes anything.
public indirect enum ShapeExpression: Sendable, Equatable {
    case constant(Int)
    case symbol(String)
    /// A sympy function of integers: `Add`, `Mul`, `FloorDiv`, `Mod`, `Max`, `Min`, `Pow`, ...
    case function(String, [ShapeExpression])

    /// Parses `srepr` text; nil for text zoo cannot read (the size is then unknown, not wrong).
    public init?(srepr text: String) {
        var parser = Parser(characters: Array(text))
        guard let expression = parser.expression(), parser.atEnd else { return nil }
        self = expression
    }

    /// The symbols the expression uses.
    public var symbols: Set<String> {
        switch self {
        case .constant: return []
        case .symbol(let name): return [name]
        case .function(_, let arguments): return arguments.reduce(into: Set<String>()) { $0.formUnion($1.symbols) }
        }
    }

    /// The value under `bindings`; nil when a symbol is unbound or a function is one zoo does not know.
    public func evaluate(_ bindings: [String: Int]) -> Int? {
        switch self {
        case .constant(let value): return value
        case .symbol(let name): return bindings[name]
        case .function(let name, let arguments):
            let values = arguments.compactMap { $0.evaluate(bindings) }
            guard values.count == arguments.count, let first = values.first else { return nil }
            switch name {
            case "Add": return values.reduce(0, &+)
            case "Mul": return values.reduce(1, &*)
            case "Max": return values.max()
            case "Min": return values.min()
            case "FloorDiv" where values.count == 2 && values[1] != 0: return floorDivision(first, values[1])
            case "CeilDiv" where values.count == 2 && values[1] != 0: return -floorDivision(-first, values[1])
            case "Mod", "PythonMod":
                guard values.count == 2, values[1] != 0 else { return nil }
                return first - values[1] * floorDivision(first, values[1])
            case "Pow" where values.count == 2 && values[1] >= 0 && values[1] < 64:
                return (0..<values[1]).reduce(1) { product, _ in product &* first }
            default: return nil
            }
        }
    }

    private func floorDivision(_ a: Int, _ b: Int) -> Int {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    /// A recursive-descent reader of `Name(argument, ...)`, integers and quoted names; keyword
    /// arguments (`positive=True`) are read and ignored.
    private struct Parser {
        let characters: [Character]
        var position = 0

        var atEnd: Bool {
            mutating get {
                skipSpaces()
                return position == characters.count
            }
        }

        mutating func skipSpaces() {
            while position < characters.count, characters[position] == " " { position += 1 }
        }

        mutating func expression() -> ShapeExpression? {
            skipSpaces()
            if let number = integer() { return .constant(number) }
            let name = identifier()
            guard !name.isEmpty, consume("(") else { return nil }
            var arguments: [ShapeExpression] = []
            var quoted: String?
            while !consume(")") {
                if !arguments.isEmpty || quoted != nil { guard consume(",") else { return nil } }
                skipSpaces()
                if let text = quotedText() {
                    quoted = text
                    continue
                }
                let mark = position
                let keyword = identifier()
                if !keyword.isEmpty, consume("=") {
                    _ = identifier()
                    continue
                }
                position = mark
                guard let argument = expression() else { return nil }
                arguments.append(argument)
            }
            switch name {
            case "Symbol": return quoted.map(ShapeExpression.symbol)
            case "Integer": return arguments.count == 1 ? arguments[0] : nil
            default: return .function(name, arguments)
            }
        }

        mutating func integer() -> Int? {
            let start = position
            if position < characters.count, characters[position] == "-" { position += 1 }
            while position < characters.count, characters[position].isASCII, characters[position].isNumber { position += 1 }
            guard position > start, let value = Int(String(characters[start..<position])) else {
                position = start
                return nil
            }
            return value
        }

        mutating func identifier() -> String {
            skipSpaces()
            let start = position
            while position < characters.count, characters[position].isLetter || characters[position].isNumber || characters[position] == "_"
            {
                position += 1
            }
            return String(characters[start..<position])
        }

        mutating func quotedText() -> String? {
            guard position < characters.count, characters[position] == "'" || characters[position] == "\"" else { return nil }
            let quote = characters[position]
            position += 1
            let start = position
            while position < characters.count, characters[position] != quote { position += 1 }
            guard position < characters.count else { return nil }
            defer { position += 1 }
            return String(characters[start..<position])
        }

        mutating func consume(_ character: Character) -> Bool {
            skipSpaces()
            guard position < characters.count, characters[position] == character else { return false }
            position += 1
            return true
        }
    }
}
