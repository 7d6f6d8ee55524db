import Foundation

/// Any JSON value, kept whole so that fields this version does not know survive a round trip.
public enum JSONValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses JSON text; throws ``JSONParseError`` naming what is wrong and where.
    public static func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(text)
    }

    /// Parses JSON text as ``parse(_:)`` does (the same errors for the same text), keeping only the
    /// values at `paths` (object keys from the root; `*` matches any key; arrays are passed through)
    /// and the objects on the way to them: for reading a few facts out of megabytes of JSON without
    /// its whole tree of values, which takes several times the text.
    public static func parse(_ text: String, keeping paths: [[String]]) throws -> JSONValue {
        try JSONParser.parse(text, keeping: paths)
    }

    /// Parses JSON text as ``parse(_:keeping:)`` does, handing each member of the object at
    /// `members` (object keys from the root, `*` for any) to `body` as soon as it is read, with
    /// its key, instead of keeping it: for a file of thousands of records, each becomes a value
    /// one at a time, where a tree of all of them took several times the text. `paths` says what
    /// to keep of each member (a member's paths start with `members`), as of any other value.
    public static func parse(
        _ text: String, keeping paths: [[String]], handing members: [String], to body: (String, JSONValue) -> Void
    ) throws -> JSONValue {
        try JSONParser.parse(text, keeping: paths, handing: [members]) { _, key, value in body(key, value) }
    }

    /// As ``parse(_:keeping:handing:to:)``, for several collections at once, arrays among them:
    /// each member of an object at one of `collections` (object keys from the root, `*` for any),
    /// or each item of an array there, goes to `body` as soon as it is read, with the collection's
    /// index in `collections` and the member's key or the item's index (`"0"`, `"1"`, ...), in
    /// the order of the text. The collections are left empty in the value returned.
    public static func parse(
        _ text: String, keeping paths: [[String]], handingEach collections: [[String]],
        to body: (_ collection: Int, _ key: String, _ value: JSONValue) -> Void
    ) throws -> JSONValue {
        try JSONParser.parse(text, keeping: paths, handing: collections, to: body)
    }

    /// Compact JSON with sorted keys, so equal values serialise identically.
    public func serialized(pretty: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        // JSON has no NaN or infinity: they are written as the strings "nan", "inf" and "-inf"
        // rather than failing the whole document.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let data = try? encoder.encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    public var description: String { serialized() }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// An integer, also from a double with no fractional part (Python writes `10.0` sometimes).
    public var intValue: Int? {
        switch self {
        case .int(let value): return Int(exactly: value)
        case .double(let value): return Int(exactly: value)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        case .string("nan"): return .nan
        case .string("inf"): return .infinity
        case .string("-inf"): return -.infinity
        default: return nil
        }
    }
}
