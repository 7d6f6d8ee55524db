/// An ordered mapping from state_dict key to tensor, as PyTorch's `state_dict()` returns.
public struct StateDict: Sendable, Equatable, Sequence {
    public private(set) var keys: [String] = []
    private var tensors: [String: Tensor] = [:]

    public init() {}

    /// Builds from ordered pairs; a repeated key keeps its first position and its last value.
    public init(_ entries: [(String, Tensor)]) {
        for (key, tensor) in entries { self[key] = tensor }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public subscript(key: String) -> Tensor? {
        get { tensors[key] }
        set {
            if let newValue {
                if tensors.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if tensors.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Inserts `tensor` at `position` in key order (appends when the key is new and position is past the end).
    public mutating func insert(_ tensor: Tensor, forKey key: String, at position: Int) {
        self[key] = nil
        tensors[key] = tensor
        keys.insert(key, at: Swift.min(Swift.max(position, 0), keys.count))
    }

    public func makeIterator() -> AnyIterator<(key: String, tensor: Tensor)> {
        var index = 0
        return AnyIterator {
            guard index < keys.count else { return nil }
            defer { index += 1 }
            return (keys[index], tensors[keys[index]]!)
        }
    }

    /// Total bytes of all tensors in their stored dtypes.
    public var byteCount: Int { tensors.values.reduce(0) { $0 + $1.count * $1.dtype.byteCount } }

    /// Total number of elements.
    public var elementCount: Int { tensors.values.reduce(0) { $0 + $1.count } }
}
