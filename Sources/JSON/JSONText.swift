/// JSON text written piece by piece, for documents too big to build as a ``JSONValue`` first (a
/// safetensors header of 20,000 tensors: a tree of 100,000 values, and Foundation's encoder
/// builds another on top). Escapes as ``JSONValue/serialized(pretty:)`` does: quotes,
/// backslashes and control characters, slashes left as they are.
public struct JSONText: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Makes room for `count` bytes at once, for a caller that knows about how long the text
    /// will be: growing a buffer of megabytes a piece at a time holds the old one beside the new.
    public mutating func reserveCapacity(_ count: Int) {
        bytes.reserveCapacity(count)
    }

    /// `value` as a JSON string literal.
    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// JSON punctuation or a number, as it is.
    public mutating func raw(_ text: String) {
        bytes += text.utf8
    }

    /// `[a,b,...]` of integers.
    public mutating func integers(_ values: [Int]) {
        raw("[" + values.map(String.init).joined(separator: ",") + "]")
    }

    /// `{"key":value,...}` with the keys in sorted order (so that equal contents give equal text),
    /// each value written by `value`.
    public mutating func object<Value>(_ fields: [String: Value], _ value: (inout JSONText, Value) -> Void) {
        raw("{")
        for (index, field) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { raw(",") }
            string(field.key)
            raw(":")
            value(&self, field.value)
        }
        raw("}")
    }
}
