import Foundation
import Tensor

/// Reads and writes NumPy `.npy` files (format versions 1-3, C order).
public enum NumPyFile {
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var path: String
        public var reason: String
        public var description: String { "\(path): not a usable .npy array: \(reason)" }
    }

    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    public static func read(_ path: String) throws(Error) -> Tensor {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Error(path: path, reason: "cannot read the file")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw Error(path: path, reason: "no .npy magic at the start")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw Error(path: path, reason: "truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw Error(path: path, reason: "unsupported .npy version \(major)")
        }
        guard bytes.count >= headerStart + headerLength else { throw Error(path: path, reason: "truncated header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = field("descr", in: header).map({ $0.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) }),
            let shapeText = field("shape", in: header)
        else { throw Error(path: path, reason: "header lacks descr or shape: \(header)") }
        if field("fortran_order", in: header) == "True" {
            throw Error(path: path, reason: "Fortran-order arrays are not supported; save with np.ascontiguousarray")
        }
        let shape = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let dims = shape.compactMap { Int($0) }
        guard dims.count == shape.count else { throw Error(path: path, reason: "bad shape \(shapeText)") }
        guard let (dtype, bigEndian) = dtype(for: descr) else {
            throw Error(
                path: path, reason: "unsupported dtype '\(descr)' (use float32, float64, float16, int64, int32, int16, int8, uint8 or bool)"
            )
        }
        let payloadStart = headerStart + headerLength
        guard let count = Tensor.elementCount(dims), !count.multipliedReportingOverflow(by: dtype.byteCount).overflow else {
            throw Error(path: path, reason: "shape \(dims) is invalid or too large")
        }
        let expected = count * dtype.byteCount
        guard bytes.count - payloadStart >= expected else {
            throw Error(path: path, reason: "data is truncated: \(bytes.count - payloadStart) of \(expected) bytes")
        }
        var payload = Array(bytes[payloadStart..<(payloadStart + expected)])
        if bigEndian { swapByteOrder(&payload, elementWidth: dtype.byteCount) }
        do {
            return try Tensor(shape: dims, dtype: dtype, littleEndianBytes: payload)
        } catch {
            throw Error(path: path, reason: error.description)
        }
    }

    /// Writes a version 1.0 `.npy` file in the tensor's dtype (bfloat16 is written as float32,
    /// which NumPy lacks).
    public static func write(_ tensor: Tensor, to path: String) throws(Error) {
        let tensor = tensor.dtype == .bfloat16 ? tensor.converted(to: .float32) : tensor
        let descr: String
        switch tensor.dtype {
        case .float32: descr = "<f4"
        case .float64: descr = "<f8"
        case .float16: descr = "<f2"
        case .int64: descr = "<i8"
        case .int32: descr = "<i4"
        case .int16: descr = "<i2"
        case .int8: descr = "|i1"
        case .uint8: descr = "|u1"
        case .bool, .bfloat16: descr = "|b1"
        }
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(\(tensor.shape.map(String.init).joined(separator: ", ")))"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes = magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        bytes += tensor.littleEndianBytes
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw Error(path: path, reason: "cannot create the file")
        }
    }

    private static func field(_ name: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(name)'") ?? header.range(of: "\"\(name)\"") else { return nil }
        var rest = header[keyRange.upperBound...].drop { $0 == " " || $0 == ":" }
        if rest.first == "(" {
            guard let end = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...end])
        }
        rest = rest.prefix { $0 != "," && $0 != "}" }
        return rest.trimmingCharacters(in: .whitespaces)
    }

    private static func dtype(for descr: String) -> (DType, Bool)? {
        guard let order = descr.first else { return nil }
        let code = String(descr.dropFirst())
        let bigEndian = order == ">"
        switch code {
        case "f4": return (.float32, bigEndian)
        case "f8": return (.float64, bigEndian)
        case "f2": return (.float16, bigEndian)
        case "i8": return (.int64, bigEndian)
        case "i4": return (.int32, bigEndian)
        case "i2": return (.int16, bigEndian)
        case "i1": return (.int8, false)
        case "u1": return (.uint8, false)
        case "b1": return (.bool, false)
        default: return nil
        }
    }
}
