/// A value the restricted unpickler can build: only what a weights file holds.
///
/// Lists and dicts are reference types, as in Python, because a pickle may memoise a container
/// and fill it later (`EMPTY_DICT`, `BINPUT`, ..., `SETITEMS`).
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer too large for 64 bits (`LONG1`/`LONG4`): kept as its little-endian two's
    /// complement bytes, never needed for weights (the legacy magic number is one).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// An allowed global, by its dotted name, before it is called.
    case global(String)
    /// A storage named by a persistent id: where its bytes are and what they hold.
    case storage(StorageReference)
    case tensor(TensorReference)

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var intValue: Int? {
        if case .int(let value) = self { return Int(exactly: value) }
        return nil
    }

    var tupleValue: [PickleValue]? {
        switch self {
        case .tuple(let items): return items
        case .list(let list): return list.items
        default: return nil
        }
    }

    /// A short name of the value's kind, for messages.
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let name): return name
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

final class PickleList {
    var items: [PickleValue] = []
}

/// An insertion-ordered dict (Python's dicts keep order; state_dicts rely on it).
final class PickleDict {
    private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var stringPositions: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if let name = key.stringValue {
            if let position = stringPositions[name] {
                entries[position].value = value
            } else {
                stringPositions[name] = entries.count
                entries.append((key, value))
            }
        } else {
            entries.append((key, value))
        }
    }

    subscript(key: String) -> PickleValue? {
        stringPositions[key].map { entries[$0].value }
    }

    var isEmpty: Bool { entries.isEmpty }
}

/// A storage as a persistent id names it: `('storage', storage_type, key, location, numel)`,
/// with the legacy format's optional view `(view_key, offset, view_size)`.
struct StorageReference {
    var key: String
    var dtype: TorchStorageType
    var location: String
    var elementCount: Int
    /// For legacy views: the element offset of this storage inside the root storage `key`.
    var viewOffset: Int = 0
}

/// `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`.
struct TensorReference {
    var storage: StorageReference
    var offset: Int
    var shape: [Int]
    var strides: [Int]
}
