/// Why a tensor could not be made or reshaped.
public enum TensorError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidShape([Int])
    case elementCountMismatch(shape: [Int], expected: Int, actual: Int)
    case byteCountMismatch(dtype: DType, shape: [Int], expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .invalidShape(let shape):
            return "invalid shape \(shape): dimensions must be non-negative and their product must fit in memory"
        case .elementCountMismatch(let shape, let expected, let actual):
            return "shape \(shape) holds \(expected) elements, but \(actual) were given"
        case .byteCountMismatch(let dtype, let shape, let expected, let actual):
            return "\(dtype) tensor of shape \(shape) needs \(expected) bytes, but \(actual) were given"
        }
    }
}
