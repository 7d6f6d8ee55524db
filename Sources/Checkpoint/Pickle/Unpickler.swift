/// Why a pickle was not unpickled: refused (it names something a weights file does not need)
/// or damaged (it ends early or contradicts itself).
enum PickleError: Error, CustomStringConvertible {
    case refused(String)
    case damaged(String)

    var description: String {
        switch self {
        case .refused(let reason), .damaged(let reason): return reason
        }
    }
}

/// A restricted pickle machine (protocols 2 to 5) that builds only what a weights file holds,
/// as `torch.load(weights_only=True)` does: dicts and `collections.OrderedDict`, lists, tuples,
/// str, bytes, int, float, bool, None, tensors through `torch._utils._rebuild_tensor_v2` (and
/// `_rebuild_tensor`, `_rebuild_parameter`), and storages through persistent ids.
///
/// Every other global is refused when the pickle names it, before anything is built from it;
/// nothing is ever executed. The machine is a loop over the bytes with explicit stacks, so a
/// deeply nested pickle cannot exhaust the call stack.
///
/// It reads from memory it does not own (a pickle's bytes, or a mapped file): the caller keeps
/// that memory alive while the unpickler is used.
struct Unpickler {
    private let bytes: UnsafeRawBufferPointer
    private(set) var position: Int
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Turns a persistent id into the value it stands for (a storage).
    var persistentLoad: (PickleValue) throws(PickleError) -> PickleValue = { _ throws(PickleError) in
        throw .refused("the pickle uses persistent ids outside a torch.save file")
    }
    /// Every global the pickle named, in order, each once.
    private(set) var globals: [String] = []

    init(_ bytes: UnsafeRawBufferPointer, from position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// Runs the pickle from the current position to its STOP and returns the value it built.
    mutating func load() throws(PickleError) -> PickleValue {
        stack = []
        marks = []
        memo = [:]
        while true {
            let opcode = try byte()
            switch opcode {
            case 0x80: _ = try byte()  // PROTO
            case 0x95: _ = try take(8)  // FRAME: a length hint only
            case 0x2E:  // STOP
                guard let result = stack.popLast() else { throw .damaged("the pickle stops with an empty stack") }
                return result
            case 0x28: marks.append(stack.count)  // MARK
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: stack.append(try top())  // DUP
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4A: stack.append(.int(Int64(Int32(bitPattern: UInt32(try littleEndian(4))))))  // BININT
            case 0x4B: stack.append(.int(Int64(try byte())))  // BININT1
            case 0x4D: stack.append(.int(Int64(try littleEndian(2))))  // BININT2
            case 0x8A: stack.append(try long(Int(try byte())))  // LONG1
            case 0x8B: stack.append(try long(try length(4)))  // LONG4
            case 0x49: stack.append(try textInteger())  // INT
            case 0x4C: stack.append(try textInteger())  // LONG
            case 0x47: stack.append(.float(Double(bitPattern: try bigEndian(8))))  // BINFLOAT
            case 0x46:  // FLOAT
                guard let value = Double(try line()) else { throw .damaged("a FLOAT opcode holds no number") }
                stack.append(.float(value))
            case 0x58: stack.append(.string(try utf8(try length(4))))  // BINUNICODE
            case 0x8C: stack.append(.string(try utf8(Int(try byte()))))  // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try utf8(try length(8))))  // BINUNICODE8
            case 0x56: stack.append(.string(try line()))  // UNICODE
            case 0x54: stack.append(.string(try latin1(try length(4))))  // BINSTRING
            case 0x55: stack.append(.string(try latin1(Int(try byte()))))  // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(try take(try length(4))))  // BINBYTES
            case 0x43: stack.append(.bytes(try take(Int(try byte()))))  // SHORT_BINBYTES
            case 0x8E, 0x96: stack.append(.bytes(try take(try length(8))))  // BINBYTES8, BYTEARRAY8
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
            case 0x86:  // TUPLE2
                let second = try pop()
                stack.append(.tuple([try pop(), second]))
            case 0x87:  // TUPLE3
                let third = try pop()
                let second = try pop()
                stack.append(.tuple([try pop(), second, third]))
            case 0x5D, 0x8F: stack.append(.list(PickleList()))  // EMPTY_LIST, EMPTY_SET (a set of ints is kept as a list)
            case 0x6C, 0x91:  // LIST, FROZENSET
                let list = PickleList()
                list.items = try popMark()
                stack.append(.list(list))
            case 0x61:  // APPEND
                let value = try pop()
                try list(try top()).items.append(value)
            case 0x65, 0x90:  // APPENDS, ADDITEMS
                let values = try popMark()
                try list(try top()).items.append(contentsOf: values)
            case 0x7D: stack.append(.dict(PickleDict()))  // EMPTY_DICT
            case 0x64:  // DICT
                let dict = PickleDict()
                try setItems(try popMark(), into: dict)
                stack.append(.dict(dict))
            case 0x73:  // SETITEM
                let value = try pop()
                let key = try pop()
                try dict(try top()).set(key, value)
            case 0x75:  // SETITEMS
                let items = try popMark()
                try setItems(items, into: try dict(try top()))
            case 0x68: stack.append(try recall(Int(try byte())))  // BINGET
            case 0x6A: stack.append(try recall(Int(try littleEndian(4))))  // LONG_BINGET
            case 0x67: stack.append(try recall(try textIndex()))  // GET
            case 0x71: memo[Int(try byte())] = try top()  // BINPUT
            case 0x72: memo[Int(try littleEndian(4))] = try top()  // LONG_BINPUT
            case 0x70: memo[try textIndex()] = try top()  // PUT
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case 0x63:  // GLOBAL
                let module = try line()
                stack.append(try global(module: module, name: try line()))
            case 0x93:  // STACK_GLOBAL
                guard let name = try pop().stringValue, let module = try pop().stringValue else {
                    throw .damaged("STACK_GLOBAL needs a module and a name")
                }
                stack.append(try global(module: module, name: name))
            case 0x52:  // REDUCE
                let arguments = try pop()
                stack.append(try call(try pop(), arguments))
            case 0x62:  // BUILD: state on a dict (OrderedDict's _metadata) or a tensor is not needed
                let state = try pop()
                switch try top() {
                case .dict, .tensor: break
                default: throw .refused("the pickle sets the state (\(state.kind)) of a \(try top().kind)")
                }
            case 0x51:  // BINPERSID
                stack.append(try persistentLoad(try pop()))
            case 0x50:  // PERSID
                stack.append(try persistentLoad(.string(try line())))
            case 0x81, 0x92, 0x69, 0x6F:  // NEWOBJ, NEWOBJ_EX, INST, OBJ: building objects
                throw .refused("the pickle builds an object")
            default:
                throw .refused(String(format: "the pickle uses opcode 0x%02x, which a weights file does not need", opcode))
            }
        }
    }

    // MARK: - Globals and calls

    private mutating func global(module: String, name: String) throws(PickleError) -> PickleValue {
        let qualified = TorchGlobals.canonical(module: module, name: name)
        if !globals.contains(qualified) { globals.append(qualified) }
        if TorchGlobals.isAllowed(qualified) { return .global(qualified) }
        if TorchStorageType.isUnsupportedTorchType(qualified) {
            throw .refused("the file holds a \(qualified), which no zoo dtype matches")
        }
        if instantiatesNext {
            let lowered = qualified.lowercased()
            if module == "__main__" || module.hasPrefix("torch.nn") || lowered.contains("model") || lowered.contains("torchvision")
                || name.hasSuffix("Net")
            {
                throw .refused("this file pickles a whole model (class \(qualified)); save model.state_dict() instead")
            }
            throw .refused("refused: the pickle builds an object of class \(qualified), which a weights file does not hold")
        }
        throw .refused("refused: the pickle calls \(qualified)")
    }

    /// True when the opcodes after a GLOBAL make an instance of it (`EMPTY_TUPLE`, `NEWOBJ`), as
    /// pickling an object does, rather than calling it.
    private var instantiatesNext: Bool {
        var index = position
        func skipMemo() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x71, 0x68: index += 2
                case 0x72, 0x6A: index += 5
                case 0x94: index += 1
                default: return
                }
            }
        }
        skipMemo()
        if index < bytes.count, bytes[index] == 0x29 {
            index += 1
            skipMemo()
        }
        return index < bytes.count && (bytes[index] == 0x81 || bytes[index] == 0x92)
    }

    private func call(_ callable: PickleValue, _ arguments: PickleValue) throws(PickleError) -> PickleValue {
        guard case .global(let name) = callable else { throw .refused("the pickle calls a \(callable.kind)") }
        guard let arguments = arguments.tupleValue else { throw .damaged("\(name) is called without an argument tuple") }
        switch name {
        case TorchGlobals.orderedDict:
            let dict = PickleDict()
            for pair in arguments.first?.tupleValue ?? [] {
                guard let items = pair.tupleValue, items.count == 2 else { throw .damaged("OrderedDict takes (key, value) pairs") }
                dict.set(items[0], items[1])
            }
            return .dict(dict)
        case TorchGlobals.rebuildTensorV2, TorchGlobals.rebuildTensor:
            guard arguments.count >= 4, case .storage(let storage) = arguments[0], let offset = arguments[1].intValue,
                let shape = arguments[2].tupleValue?.compactMap(\.intValue), let strides = arguments[3].tupleValue?.compactMap(\.intValue),
                shape.count == arguments[2].tupleValue?.count, strides.count == shape.count
            else { throw .damaged("\(name) is called with arguments that do not describe a tensor") }
            return .tensor(TensorReference(storage: storage, offset: offset, shape: shape, strides: strides))
        case TorchGlobals.rebuildParameter, TorchGlobals.rebuildParameterWithState:
            guard let data = arguments.first, case .tensor = data else { throw .damaged("\(name) is called without a tensor") }
            return data
        default:
            throw .refused("refused: the pickle calls \(name)")
        }
    }

    // MARK: - Stacks

    private mutating func pop() throws(PickleError) -> PickleValue {
        guard let value = stack.popLast() else { throw .damaged("the pickle pops an empty stack") }
        return value
    }

    private func top() throws(PickleError) -> PickleValue {
        guard let value = stack.last else { throw .damaged("the pickle reads an empty stack") }
        return value
    }

    private mutating func popMark() throws(PickleError) -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw .damaged("the pickle closes a mark it never opened") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func recall(_ index: Int) throws(PickleError) -> PickleValue {
        guard let value = memo[index] else { throw .damaged("the pickle recalls memo \(index), which it never stored") }
        return value
    }

    private func list(_ value: PickleValue) throws(PickleError) -> PickleList {
        guard case .list(let list) = value else { throw .damaged("the pickle appends to a \(value.kind)") }
        return list
    }

    private func dict(_ value: PickleValue) throws(PickleError) -> PickleDict {
        guard case .dict(let dict) = value else { throw .damaged("the pickle sets an item of a \(value.kind)") }
        return dict
    }

    private func setItems(_ items: [PickleValue], into dict: PickleDict) throws(PickleError) {
        guard items.count % 2 == 0 else { throw .damaged("the pickle sets a key without a value") }
        for index in stride(from: 0, to: items.count, by: 2) { dict.set(items[index], items[index + 1]) }
    }

    // MARK: - Bytes

    private mutating func byte() throws(PickleError) -> UInt8 {
        guard position < bytes.count else { throw .damaged("the pickle is truncated") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ count: Int) throws(PickleError) -> [UInt8] {
        guard count >= 0, count <= bytes.count - position else { throw .damaged("the pickle is truncated") }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    private mutating func littleEndian(_ count: Int) throws(PickleError) -> UInt64 {
        try take(count).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func bigEndian(_ count: Int) throws(PickleError) -> UInt64 {
        try take(count).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A length field; bounded by what is left, so that a damaged length cannot ask for more.
    private mutating func length(_ width: Int) throws(PickleError) -> Int {
        let value = try littleEndian(width)
        guard value <= UInt64(bytes.count - position) else { throw .damaged("the pickle is truncated") }
        return Int(value)
    }

    private mutating func long(_ count: Int) throws(PickleError) -> PickleValue {
        let data = try take(count)
        guard count <= 8 else { return .bigInt(data) }
        if count == 0 { return .int(0) }
        var value: UInt64 = 0
        for (index, byte) in data.enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        // Sign-extend from the top bit of the last byte.
        if count < 8, data[count - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(count)) }
        return .int(Int64(bitPattern: value))
    }

    private mutating func line() throws(PickleError) -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw .damaged("the pickle is truncated") }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    private mutating func textInteger() throws(PickleError) -> PickleValue {
        var text = try line()
        if text == "01" { return .bool(true) }
        if text == "00" { return .bool(false) }
        if text.hasSuffix("L") { text.removeLast() }
        guard let value = Int64(text) else { throw .damaged("an INT opcode holds no integer") }
        return .int(value)
    }

    private mutating func textIndex() throws(PickleError) -> Int {
        guard let index = Int(try line()) else { throw .damaged("a memo index is not a number") }
        return index
    }

    private mutating func utf8(_ count: Int) throws(PickleError) -> String {
        let data = try take(count)
        guard let text = String(validating: data, as: UTF8.self) else { throw .damaged("a string is not valid UTF-8") }
        return text
    }

    private mutating func latin1(_ count: Int) throws(PickleError) -> String {
        String(decoding: try take(count).map { UInt16($0) }, as: UTF16.self)
    }
}
