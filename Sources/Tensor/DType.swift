/// The element types a ``Tensor`` can hold: the PyTorch dtypes that appear in state_dicts.
public enum DType: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float64, .float16, .bfloat16: return true
        default: return false
        }
    }

    /// PyTorch's spelling, e.g. `torch.float32`.
    public var torchName: String { "torch.\(rawValue)" }

    public var description: String { rawValue }
}
