/// Why text is not JSON: what was expected and the byte offset where it was not found.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var offset: Int

    public var description: String { "\(reason) at byte \(offset)" }
}

/// A recursive-descent reader of JSON text (RFC 8259) straight into ``JSONValue``.
///
/// `JSONDecoder` finds a value's type by trying each one and catching the failures, one thrown
/// error per attempt; on a torch.export program of a million values that is slow, and slower
/// still where every throw is recorded (a test runner capturing backtraces). This reader looks at
/// the next byte instead. Nesting is limited (``maximumDepth``), so that a hostile file of deep
/// brackets is an error rather than a stack overflow.
struct JSONParser {
    static let maximumDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    /// The key paths to keep (see ``JSONValue/parse(_:keeping:)``), nil for everything.
    private let kept: [[String]]?
    /// The object keys from the root to the value being read, when only some paths are kept.
    private var path: [String] = []
    /// The objects and arrays whose members or items go to `hand` as they are read
    /// (``JSONValue/parse(_:keeping:handing:to:)``): `hand` is told which of them (its index here),
    /// and the member's key or the item's index.
    private let handed: [[String]]
    private let hand: ((Int, String, JSONValue) -> Void)?

    private init(
        _ bytes: UnsafeBufferPointer<UInt8>, keeping kept: [[String]]?, handing handed: [[String]],
        to hand: ((Int, String, JSONValue) -> Void)?
    ) {
        (self.bytes, self.kept, self.handed, self.hand) = (bytes, kept, handed, hand)
    }

    static func parse(_ text: String, keeping kept: [[String]]? = nil) throws(JSONParseError) -> JSONValue {
        try run(text, keeping: kept, handing: [], to: nil)
    }

    static func parse(
        _ text: String, keeping kept: [[String]], handing collections: [[String]], to body: (Int, String, JSONValue) -> Void
    ) throws(JSONParseError) -> JSONValue {
        try withoutActuallyEscaping(body) { body in
            Result { () throws(JSONParseError) in try run(text, keeping: kept, handing: collections, to: body) }
        }.get()
    }

    private static func run(
        _ text: String, keeping kept: [[String]]?, handing handed: [[String]], to hand: ((Int, String, JSONValue) -> Void)?
    ) throws(JSONParseError) -> JSONValue {
        // The text's own bytes, not a copy of them: programs of many weights are megabytes of JSON.
        var text = text
        return try text.withUTF8 { bytes -> Result<JSONValue, JSONParseError> in
            var parser = JSONParser(bytes, keeping: kept, handing: handed, to: hand)
            do throws(JSONParseError) {
                let value = try parser.value(depth: 0, keep: true)
                parser.skipWhitespace()
                guard parser.position == parser.bytes.count else { throw parser.failure("text after the JSON value") }
                return .success(value)
            } catch { return .failure(error) }
        }.get()
    }

    /// Whether the value at `path` is kept: it lies on the way to a kept path or inside one.
    private func keeps(_ path: [String]) -> Bool {
        guard let kept else { return true }
        return kept.contains { pattern in zip(pattern, path).allSatisfy { $0 == "*" || $0 == $1 } }
    }

    /// Which of the collections handed on is the value at `path`, if any.
    private func handedCollection(at path: [String]) -> Int? {
        guard hand != nil else { return nil }
        return handed.firstIndex { pattern in
            pattern.count == path.count && zip(pattern, path).allSatisfy { $0 == "*" || $0 == $1 }
        }
    }

    private func failure(_ reason: String) -> JSONParseError { JSONParseError(reason: reason, offset: position) }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    /// The next value; one not kept is checked as thoroughly but not stored (`.null`). An object
    /// or array `handing` on its members or items (the index of its collection) keeps none of them.
    private mutating func value(depth: Int, keep: Bool, handing: Int? = nil) throws(JSONParseError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw failure("JSON nested deeper than \(Self.maximumDepth) levels") }
        skipWhitespace()
        guard position < bytes.count else { throw failure("a value expected, the text ended") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object(depth: depth, keep: keep, handing: handing)
        case UInt8(ascii: "["): return try array(depth: depth, keep: keep, handing: handing)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw failure("unexpected character '\(Character(Unicode.Scalar(bytes[position])))'")
        }
    }

    private mutating func literal(_ word: String, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let expected = Array(word.utf8)
        guard bytes.count - position >= expected.count, Array(bytes[position..<(position + expected.count)]) == expected else {
            throw failure("'\(word)' expected")
        }
        position += expected.count
        return value
    }

    private mutating func object(depth: Int, keep: Bool, handing: Int?) throws(JSONParseError) -> JSONValue {
        position += 1
        var fields: [String: JSONValue] = [:]
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(fields)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw failure("a quoted key expected") }
            let key = try string()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw failure("':' expected") }
            position += 1
            if keep && kept != nil {
                path.append(key)
                let keepField = keeps(path)
                let field = try value(depth: depth + 1, keep: keepField, handing: keepField ? handedCollection(at: path) : nil)
                if keepField, let hand, let handing {
                    hand(handing, key, field)
                } else if keepField {
                    fields[key] = field
                }
                path.removeLast()
            } else {
                let field = try value(depth: depth + 1, keep: keep)
                if keep { fields[key] = field }
            }
            skipWhitespace()
            guard position < bytes.count else { throw failure("'}' expected, the text ended") }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            guard bytes[position] == UInt8(ascii: "}") else { throw failure("',' or '}' expected") }
            position += 1
            return keep ? .object(fields) : .null
        }
    }

    private mutating func array(depth: Int, keep: Bool, handing: Int?) throws(JSONParseError) -> JSONValue {
        position += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        var index = 0
        while true {
            let item = try value(depth: depth + 1, keep: keep)
            if keep, let hand, let handing {
                hand(handing, String(index), item)
            } else if keep {
                items.append(item)
            }
            index += 1
            skipWhitespace()
            guard position < bytes.count else { throw failure("']' expected, the text ended") }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            guard bytes[position] == UInt8(ascii: "]") else { throw failure("',' or ']' expected") }
            position += 1
            return keep ? .array(items) : .null
        }
    }

    private mutating func number() throws(JSONParseError) -> JSONValue {
        let start = position
        var integral = true
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        while position < bytes.count {
            let byte = bytes[position]
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                position += 1
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+")
                || (byte == UInt8(ascii: "-") && position > start)
            {
                integral = false
                position += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if integral, let value = Int64(text) { return .int(value) }
        guard let value = Double(text), text.last?.isNumber == true else {
            throw JSONParseError(reason: "a malformed number '\(text)'", offset: start)
        }
        // As JSONDecoder reads them: a number of integral value (`1.0`, `1E+2`) is an integer.
        if value == value.rounded(), abs(value) < 9.2e18 { return .int(Int64(value)) }
        return .double(value)
    }

    private mutating func string() throws(JSONParseError) -> String {
        position += 1
        var runStart = position
        var result = ""
        while true {
            guard position < bytes.count else { throw failure("an unterminated string") }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                result += String(decoding: bytes[runStart..<position], as: UTF8.self)
                position += 1
                return result
            }
            if byte < 0x20 { throw failure("a control character inside a string") }
            guard byte == UInt8(ascii: "\\") else {
                position += 1
                continue
            }
            result += String(decoding: bytes[runStart..<position], as: UTF8.self)
            position += 1
            guard position < bytes.count else { throw failure("an unterminated escape") }
            let escaped = bytes[position]
            position += 1
            switch escaped {
            case UInt8(ascii: "\""): result.unicodeScalars.append("\"")
            case UInt8(ascii: "\\"): result.unicodeScalars.append("\\")
            case UInt8(ascii: "/"): result.unicodeScalars.append("/")
            case UInt8(ascii: "b"): result.unicodeScalars.append("\u{08}")
            case UInt8(ascii: "f"): result.unicodeScalars.append("\u{0C}")
            case UInt8(ascii: "n"): result.unicodeScalars.append("\n")
            case UInt8(ascii: "r"): result.unicodeScalars.append("\r")
            case UInt8(ascii: "t"): result.unicodeScalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hexQuad()
                if (0xD800..<0xDC00).contains(code) {
                    // A high surrogate pairs with the low one that must follow.
                    guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                    else {
                        throw failure("a lone surrogate in a \\u escape")
                    }
                    position += 2
                    let low = try hexQuad()
                    guard (0xDC00..<0xE000).contains(low) else { throw failure("a lone surrogate in a \\u escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw failure("a \\u escape that is no character") }
                result.unicodeScalars.append(scalar)
            default: throw failure("an unknown escape '\\\(Character(Unicode.Scalar(escaped)))'")
            }
            runStart = position
        }
    }

    private mutating func hexQuad() throws(JSONParseError) -> UInt32 {
        guard bytes.count - position >= 4, let value = UInt32(String(decoding: bytes[position..<(position + 4)], as: UTF8.self), radix: 16)
        else { throw failure("four hex digits expected after \\u") }
        position += 4
        return value
    }
}
