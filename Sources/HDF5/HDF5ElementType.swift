internal import CHDF5

/// What a dataset or attribute holds, as read from its file datatype.
public enum HDF5ElementType: Equatable, Sendable, CustomStringConvertible {
    case integer(bytes: Int, signed: Bool)
    /// A floating-point type; `bytes == 2` with an 8-bit exponent is reported as `bfloat16Float`.
    case float(bytes: Int)
    /// A 16-bit float with bfloat16's field layout (sign, 8-bit exponent, 7-bit mantissa).
    case bfloat16Float
    /// An enum over an integer base with members FALSE = 0 and TRUE = 1: how h5py stores bool.
    case boolean
    case string
    case other(String)

    public var description: String {
        switch self {
        case .integer(let bytes, let signed): return "\(signed ? "int" : "uint")\(bytes * 8)"
        case .float(let bytes): return "float\(bytes * 8)"
        case .bfloat16Float: return "bfloat16 (float type)"
        case .boolean: return "bool (enum)"
        case .string: return "string"
        case .other(let name): return name
        }
    }
}

/// The element types this library reads into and writes from memory; HDF5 converts between the
/// file's type and these, so file bytes are never reinterpreted by hand.
public enum HDF5MemoryType: Sendable, CaseIterable {
    case int8, uint8, int16, uint16, int32, int64, float16, bfloat16, float32, float64, bool

    public var byteCount: Int {
        switch self {
        case .int8, .uint8, .bool: return 1
        case .int16, .uint16, .float16, .bfloat16: return 2
        case .int32, .float32: return 4
        case .int64, .float64: return 8
        }
    }
}

extension HDF5MemoryType {
    /// A datatype handle for this element type in native byte order.
    func nativeType(path: String) throws -> HDF5Handle {
        switch self {
        case .int8: return try copied({ zoo_h5t_native_int8() }, path)
        case .uint8: return try copied({ zoo_h5t_native_uint8() }, path)
        case .int16: return try copied({ zoo_h5t_native_int16() }, path)
        case .uint16: return try copied({ zoo_h5t_native_uint16() }, path)
        case .int32: return try copied({ zoo_h5t_native_int32() }, path)
        case .int64: return try copied({ zoo_h5t_native_int64() }, path)
        case .float32: return try copied({ zoo_h5t_native_float() }, path)
        case .float64: return try copied({ zoo_h5t_native_double() }, path)
        case .float16: return try customFloat(path, exponentBits: 5, mantissaBits: 10, bias: 15)
        case .bfloat16: return try customFloat(path, exponentBits: 8, mantissaBits: 7, bias: 127)
        case .bool: return try booleanEnum(path)
        }
    }

    /// The datatype written to files: little-endian, as h5py writes on every common machine.
    func fileType(path: String) throws -> HDF5Handle {
        switch self {
        case .int8: return try copied({ zoo_h5t_std_i8le() }, path)
        case .uint8: return try copied({ zoo_h5t_std_u8le() }, path)
        case .int16: return try copied({ zoo_h5t_std_i16le() }, path)
        case .uint16: return try copied({ zoo_h5t_std_u16le() }, path)
        case .int32: return try copied({ zoo_h5t_std_i32le() }, path)
        case .int64: return try copied({ zoo_h5t_std_i64le() }, path)
        case .float32: return try copied({ zoo_h5t_ieee_f32le() }, path)
        case .float64: return try copied({ zoo_h5t_ieee_f64le() }, path)
        case .float16, .bfloat16, .bool: return try nativeType(path: path)
        }
    }

    /// `type` is a closure so that the shim (which may run H5open) is called under the library lock.
    private func copied(_ type: () -> hid_t, _ path: String) throws -> HDF5Handle {
        HDF5Handle(try HDF5Library.identifier("copy datatype", path) { H5Tcopy(type()) }, .datatype)
    }

    /// HDF5 1.10 has no predefined half type; h5py builds IEEE half the same way, from
    /// single precision with narrower fields, so the files agree.
    private func customFloat(_ path: String, exponentBits: Int, mantissaBits: Int, bias: Int) throws -> HDF5Handle {
        let type = try copied({ zoo_h5t_ieee_f32le() }, path)
        let op = "build 16-bit float type"
        try HDF5Library.check(op, path) {
            H5Tset_fields(type.id, 15, size_t(mantissaBits), size_t(exponentBits), 0, size_t(mantissaBits))
        }
        try HDF5Library.check(op, path) { H5Tset_size(type.id, 2) }
        try HDF5Library.check(op, path) { H5Tset_ebias(type.id, size_t(bias)) }
        return type
    }

    /// h5py's bool: an int8 enum with FALSE = 0 and TRUE = 1.
    private func booleanEnum(_ path: String) throws -> HDF5Handle {
        let type = HDF5Handle(
            try HDF5Library.identifier("build bool enum", path) { H5Tenum_create(zoo_h5t_native_int8()) },
            .datatype)
        for (name, value) in [("FALSE", Int8(0)), ("TRUE", Int8(1))] {
            var value = value
            try HDF5Library.check("build bool enum", path) { H5Tenum_insert(type.id, name, &value) }
        }
        return type
    }
}

/// Describes a file datatype without ML meaning.
func describeElementType(_ type: hid_t, path: String) throws -> HDF5ElementType {
    try HDF5Library.locked {
        let typeClass = H5Tget_class(type)
        let size = H5Tget_size(type)
        switch typeClass {
        case H5T_INTEGER:
            return .integer(bytes: Int(size), signed: H5Tget_sign(type) == H5T_SGN_2)
        case H5T_FLOAT:
            if size == 2 && H5Tget_ebias(type) == 127 { return .bfloat16Float }
            return .float(bytes: Int(size))
        case H5T_STRING:
            return .string
        case H5T_ENUM:
            return isBooleanEnum(type) ? .boolean : .other("enum")
        case H5T_COMPOUND: return .other("compound")
        case H5T_OPAQUE: return .other("opaque")
        case H5T_ARRAY: return .other("array")
        case H5T_VLEN: return .other("vlen")
        case H5T_REFERENCE: return .other("reference")
        case H5T_BITFIELD: return .other("bitfield")
        default:
            if typeClass == H5T_NO_CLASS {
                throw HDF5Library.takeError("read datatype", path)
            }
            return .other("class \(typeClass.rawValue)")
        }
    }
}

private func isBooleanEnum(_ type: hid_t) -> Bool {
    guard H5Tget_nmembers(type) == 2 else { return false }
    var names: [String] = []
    for index in 0..<2 {
        guard let raw = H5Tget_member_name(type, UInt32(index)) else { return false }
        names.append(String(cString: raw))
        H5free_memory(raw)
    }
    return Set(names) == ["FALSE", "TRUE"]
}
