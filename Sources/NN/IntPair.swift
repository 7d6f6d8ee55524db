/// Height and width of a 2-d argument, as PyTorch's `_pair` makes it from an int or a tuple.
public struct IntPair: Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public var height: Int
    public var width: Int

    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    public init(integerLiteral value: Int) {
        self.init(value, value)
    }

    public var description: String { height == width ? "\(height)" : "(\(height), \(width))" }
    var array: [Int] { [height, width] }
}

/// Convolution padding: explicit amounts, or PyTorch's `"same"` / `"valid"`.
public enum Padding2d: Equatable, Sendable, ExpressibleByIntegerLiteral {
    case explicit(IntPair)
    case same
    case valid

    public init(integerLiteral value: Int) { self = .explicit(IntPair(value, value)) }
}

/// How Conv2d fills the border, as PyTorch's `padding_mode`.
public enum PaddingMode: String, Sendable, CaseIterable {
    case zeros, reflect, replicate, circular
}
