/// Why a pickle was not unpickled: refused (it names something a weights file does not need)
/// or damaged (it ends early or contradicts itself).
enum PickleError: Error, CustomStringConvertible {
    case refused(Refusal)
    case damaged(String)

    var description: String {
        switch self {
        case .refused(let refusal): return refusal.description
        case .damaged(let reason): return reason
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
    private var memo = PickleMemo()
    /// Turns a persistent id into the value it stands for (a storage).
    var persistentLoad: (PickleValue) throws(PickleError) -> PickleValue = { _ throws(PickleError) in
        throw .refused(.persistentIDOutsideTorchSave)
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
        memo = PickleMemo()
        while true {
            let code = try byte()
            guard let opcode = PickleOpcode(rawValue: code) else { throw .refused(.unsupportedOpcode(code)) }
            switch opcode {
            case .proto: _ = try byte()
            case .frame: _ = try take(8)  // a length hint only
            case .stop:
                guard let result = stack.popLast() else { throw .damaged("the pickle stops with an empty stack") }
                return result
            case .mark: marks.append(stack.count)
            case .pop: _ = try pop()
            case .popMark: _ = try popMark()
            case .dup: stack.append(try top())
            case .none: stack.append(.none)
            case .newTrue: stack.append(.bool(true))
            case .newFalse: stack.append(.bool(false))
            case .binInt: stack.append(.int(Int64(Int32(bitPattern: UInt32(try littleEndian(4))))))
            case .binInt1: stack.append(.int(Int64(try byte())))
            case .binInt2: stack.append(.int(Int64(try littleEndian(2))))
            case .long1: stack.append(try long(Int(try byte())))
            case .long4: stack.append(try long(try length(4)))
            case .int: stack.append(try textInteger())
            case .long: stack.append(try textInteger())
            case .binFloat: stack.append(.float(Double(bitPattern: try bigEndian(8))))
            case .float:
                guard let value = Double(try line()) else { throw .damaged("a FLOAT opcode holds no number") }
                stack.append(.float(value))
            case .binUnicode: stack.append(.string(try utf8(try length(4))))
            case .shortBinUnicode: stack.append(.string(try utf8(Int(try byte()))))
            case .binUnicode8: stack.append(.string(try utf8(try length(8))))
            case .unicode: stack.append(.string(try line()))
            case .binString: stack.append(.string(try latin1(try length(4))))
            case .shortBinString: stack.append(.string(try latin1(Int(try byte()))))
            case .binBytes: stack.append(.bytes(try take(try length(4))))
            case .shortBinBytes: stack.append(.bytes(try take(Int(try byte()))))
            case .binBytes8, .byteArray8: stack.append(.bytes(try take(try length(8))))
            case .emptyTuple: stack.append(.tuple([]))
            case .tuple: stack.append(.tuple(try popMark()))
            case .tuple1: stack.append(.tuple([try pop()]))
            case .tuple2:
                let second = try pop()
                stack.append(.tuple([try pop(), second]))
            case .tuple3:
                let third = try pop()
                let second = try pop()
                stack.append(.tuple([try pop(), second, third]))
            case .emptyList, .emptySet: stack.append(.list(PickleList()))  // a set of ints is kept as a list
            case .list, .frozenSet:
                let list = PickleList()
                list.items = try popMark()
                stack.append(.list(list))
            case .append:
                let value = try pop()
                try list(try top()).items.append(value)
            case .appends, .addItems:
                let values = try popMark()
                try list(try top()).items.append(contentsOf: values)
            case .emptyDict: stack.append(.dict(PickleDict()))
            case .dict:
                let dict = PickleDict()
                try setItems(try popMark(), into: dict)
                stack.append(.dict(dict))
            case .setItem:
                let value = try pop()
                let key = try pop()
                try dict(try top()).set(key, value)
            case .setItems:
                let items = try popMark()
                try setItems(items, into: try dict(try top()))
            case .binGet: stack.append(try recall(Int(try byte())))
            case .longBinGet: stack.append(try recall(Int(try littleEndian(4))))
            case .get: stack.append(try recall(try textIndex()))
            case .binPut: memo.store(try top(), at: Int(try byte()))
            case .longBinPut: memo.store(try top(), at: Int(try littleEndian(4)))
            case .put: memo.store(try top(), at: try textIndex())
            case .memoize: memo.store(try top(), at: memo.count)
            case .global:
                let module = try line()
                stack.append(try global(module: module, name: try line()))
            case .stackGlobal:
                guard let name = try pop().stringValue, let module = try pop().stringValue else {
                    throw .damaged("STACK_GLOBAL needs a module and a name")
                }
                stack.append(try global(module: module, name: name))
            case .reduce:
                let arguments = try pop()
                stack.append(try call(try pop(), arguments))
            case .build:  // state on a dict (OrderedDict's _metadata) or a tensor is not needed
                let state = try pop()
                switch try top() {
                case .dict, .tensor: break
                default: throw .refused(.setsState(state: state.kind, target: try top().kind))
                }
            case .binPersID:
                stack.append(try persistentLoad(try pop()))
            case .persID:
                stack.append(try persistentLoad(.string(try line())))
            case .newObj, .newObjEx, .inst, .obj:
                throw .refused(.buildsAnonymousObject)
            }
        }
    }

    // MARK: - Globals and calls

    private mutating func global(module: String, name: String) throws(PickleError) -> PickleValue {
        let qualified = TorchGlobals.canonical(module: module, name: name)
        if !globals.contains(qualified) { globals.append(qualified) }
        if TorchGlobals.isAllowed(qualified) { return .global(qualified) }
        if TorchStorageType.isUnsupportedTorchType(qualified) {
            throw .refused(.unsupportedTorchType(qualified))
        }
        if instantiatesNext {
            let lowered = qualified.lowercased()
            if module == "__main__" || module.hasPrefix("torch.nn") || lowered.contains("model") || lowered.contains("torchvision")
                || name.hasSuffix("Net")
            {
                throw .refused(.pickledModel(className: qualified))
            }
            throw .refused(.buildsObject(className: qualified))
        }
        throw .refused(.forbiddenGlobal(qualified))
    }

    /// True when the opcodes after a GLOBAL make an instance of it (`EMPTY_TUPLE`, `NEWOBJ`), as
    /// pickling an object does, rather than calling it.
    private var instantiatesNext: Bool {
        var index = position
        func opcode() -> PickleOpcode? { index < bytes.count ? PickleOpcode(rawValue: bytes[index]) : nil }
        func skipMemo() {
            while true {
                switch opcode() {
                case .binPut, .binGet: index += 2
                case .longBinPut, .longBinGet: index += 5
                case .memoize: index += 1
                default: return
                }
            }
        }
        skipMemo()
        if opcode() == .emptyTuple {
            index += 1
            skipMemo()
        }
        return opcode() == .newObj || opcode() == .newObjEx
    }

    private func call(_ callable: PickleValue, _ arguments: PickleValue) throws(PickleError) -> PickleValue {
        guard case .global(let name) = callable else { throw .refused(.callsNonGlobal(kind: callable.kind)) }
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
            throw .refused(.forbiddenGlobal(name))
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

/// An unpickler's memo: the values a pickle stores by number to recall later. Picklers number
/// them 0, 1, 2, ... in order, so those are kept in an array, one word a value, where a
/// dictionary took three to four times that (for the pickle of 20,000 tensors, 4 MiB beside its
/// tree); any other number, as a crafted pickle may use, in a dictionary. Either way it behaves
/// as Python's dict memo: `count` is its length, a number stored twice keeps its last value.
struct PickleMemo {
    private var ordered: [PickleValue] = []
    private var others: [Int: PickleValue] = [:]

    var count: Int { ordered.count + others.count }

    subscript(index: Int) -> PickleValue? {
        index >= 0 && index < ordered.count ? ordered[index] : others[index]
    }

    mutating func store(_ value: PickleValue, at index: Int) {
        if index >= 0 && index < ordered.count {
            ordered[index] = value
        } else if index == ordered.count {
            others[index] = nil
            ordered.append(value)
            // Numbers stored ahead of their turn join the array once it reaches them.
            while let next = others.removeValue(forKey: ordered.count) { ordered.append(next) }
        } else {
            others[index] = value
        }
    }
}
