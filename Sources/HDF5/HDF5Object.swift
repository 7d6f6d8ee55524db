internal import CHDF5

/// A group or dataset: something with a path inside a file and attributes.
// Unchecked: immutable, around an HDF5Handle (a C identifier used only under the library lock).
public class HDF5Object: @unchecked Sendable {
    /// The object's path inside the file, e.g. `/state_dict/conv1.weight`.
    public let path: String
    let handle: HDF5Handle

    init(path: String, handle: HDF5Handle) {
        self.path = path
        self.handle = handle
    }

    /// Whether an attribute with this name exists.
    public func hasAttribute(_ name: String) throws -> Bool {
        try HDF5Library.locked {
            let exists = H5Aexists(handle.id, name)
            guard exists >= 0 else {
                throw HDF5Library.takeError("look up attribute '\(name)'", path)
            }
            return exists > 0
        }
    }

    /// A string attribute in either h5py form (variable or fixed length), or nil when absent.
    public func stringAttribute(_ name: String) throws -> String? {
        guard try hasAttribute(name) else { return nil }
        let attribute = try openAttribute(name)
        let attributePath = "\(path)@\(name)"
        let type = HDF5Handle(try HDF5Library.identifier("read attribute type", attributePath) { H5Aget_type(attribute.id) }, .datatype)
        guard try describeElementType(type.id, path: attributePath) == .string else { return nil }
        let count = try elementCount(
            ofSpace: HDF5Library.identifier("read attribute space", attributePath) { H5Aget_space(attribute.id) }, path: attributePath)
        let strings = try readStrings(fileType: type.id, count: count, path: attributePath) { memoryType, buffer in
            H5Aread(attribute.id, memoryType, buffer)
        }
        return strings.first
    }

    /// A numeric attribute converted to Double by HDF5, or nil when absent or not a number.
    public func numberAttribute(_ name: String) throws -> Double? {
        guard try hasAttribute(name) else { return nil }
        let attribute = try openAttribute(name)
        let attributePath = "\(path)@\(name)"
        let type = HDF5Handle(try HDF5Library.identifier("read attribute type", attributePath) { H5Aget_type(attribute.id) }, .datatype)
        switch try describeElementType(type.id, path: attributePath) {
        case .integer, .float, .bfloat16Float: break
        default: return nil
        }
        let count = try elementCount(
            ofSpace: HDF5Library.identifier("read attribute space", attributePath) { H5Aget_space(attribute.id) }, path: attributePath)
        guard count == 1 else { return nil }
        var value = 0.0
        try HDF5Library.check("read attribute", attributePath) { H5Aread(attribute.id, zoo_h5t_native_double(), &value) }
        return value
    }

    /// Writes a scalar variable-length UTF-8 string attribute, as h5py does for `str`.
    public func setAttribute(_ name: String, string value: String) throws {
        let attributePath = "\(path)@\(name)"
        let type = try variableStringType(path: attributePath)
        let space = try scalarSpace(path: attributePath)
        try removeAttributeIfPresent(name)
        let attribute = HDF5Handle(
            try HDF5Library.identifier("create attribute", attributePath) {
                H5Acreate2(handle.id, name, type.id, space.id, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
            }, .attribute)
        try value.withCString { cString in
            var pointer: UnsafePointer<CChar>? = cString
            try HDF5Library.check("write attribute", attributePath) { H5Awrite(attribute.id, type.id, &pointer) }
        }
    }

    /// Writes a scalar float64 attribute.
    public func setAttribute(_ name: String, number value: Double) throws {
        let attributePath = "\(path)@\(name)"
        let space = try scalarSpace(path: attributePath)
        try removeAttributeIfPresent(name)
        let attribute = HDF5Handle(
            try HDF5Library.identifier("create attribute", attributePath) {
                H5Acreate2(handle.id, name, zoo_h5t_ieee_f64le(), space.id, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
            }, .attribute)
        var value = value
        try HDF5Library.check("write attribute", attributePath) { H5Awrite(attribute.id, zoo_h5t_native_double(), &value) }
    }

    private func removeAttributeIfPresent(_ name: String) throws {
        if try hasAttribute(name) {
            try HDF5Library.check("delete attribute", "\(path)@\(name)") { H5Adelete(handle.id, name) }
        }
    }

    private func openAttribute(_ name: String) throws -> HDF5Handle {
        HDF5Handle(
            try HDF5Library.identifier("open attribute", "\(path)@\(name)") {
                H5Aopen(handle.id, name, hid_t(H5P_DEFAULT))
            }, .attribute)
    }
}

func scalarSpace(path: String) throws -> HDF5Handle {
    HDF5Handle(try HDF5Library.identifier("create scalar dataspace", path) { H5Screate(H5S_SCALAR) }, .dataspace)
}

func variableStringType(path: String) throws -> HDF5Handle {
    let type = HDF5Handle(try HDF5Library.identifier("create string type", path) { H5Tcopy(zoo_h5t_c_s1()) }, .datatype)
    try HDF5Library.check("create string type", path) { H5Tset_size(type.id, zoo_h5t_variable()) }
    try HDF5Library.check("create string type", path) { H5Tset_cset(type.id, H5T_CSET_UTF8) }
    return type
}

/// Number of elements in a dataspace (1 for scalar, 0 for null), taking ownership of `spaceID`.
func elementCount(ofSpace spaceID: hid_t, path: String) throws -> Int {
    let space = HDF5Handle(spaceID, .dataspace)
    return try HDF5Library.locked {
        let count = H5Sget_simple_extent_npoints(space.id)
        guard count >= 0 else {
            throw HDF5Library.takeError("count elements", path)
        }
        return Int(count)
    }
}

/// Reads `count` strings stored with `fileType`, variable or fixed length, in the file's
/// character set, letting HDF5 convert into a memory string type of the same kind.
/// The longest string zoo reads (a manifest is a few hundred kilobytes even for large models).
let maximumStringBytes = 64 << 20

func readStrings(
    fileType: hid_t, count: Int, path: String,
    read: (hid_t, UnsafeMutableRawPointer) -> herr_t
) throws -> [String] {
    guard count > 0 else { return [] }
    guard count <= 1 << 20 else {
        throw HDF5Error(
            operation: "read strings", path: path, message: "\(count) strings, more than any checkpoint holds; the file is damaged")
    }
    let memoryType = HDF5Handle(try HDF5Library.identifier("create string type", path) { H5Tcopy(zoo_h5t_c_s1()) }, .datatype)
    let isVariable = HDF5Library.locked { H5Tis_variable_str(fileType) }
    let characterSet = HDF5Library.locked { H5Tget_cset(fileType) }
    try HDF5Library.check("create string type", path) { H5Tset_cset(memoryType.id, characterSet) }
    if isVariable > 0 {
        try HDF5Library.check("create string type", path) { H5Tset_size(memoryType.id, zoo_h5t_variable()) }
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        try pointers.withUnsafeMutableBytes { buffer in
            try HDF5Library.check("read strings", path) { read(memoryType.id, buffer.baseAddress!) }
        }
        return HDF5Library.locked {
            pointers.map { pointer in
                guard let pointer else { return "" }
                defer { H5free_memory(pointer) }
                return String(cString: pointer)
            }
        }
    }
    let width = HDF5Library.locked { H5Tget_size(fileType) }
    guard Int(width) * count <= maximumStringBytes else {
        throw HDF5Error(operation: "read strings", path: path, message: "\(Int(width) * count) bytes of text, over zoo's limit of 64 MiB")
    }
    let padding = HDF5Library.locked { H5Tget_strpad(fileType) }
    try HDF5Library.check("create string type", path) { H5Tset_size(memoryType.id, width) }
    try HDF5Library.check("create string type", path) { H5Tset_strpad(memoryType.id, H5T_STR_NULLPAD) }
    var bytes = [UInt8](repeating: 0, count: Int(width) * count)
    try bytes.withUnsafeMutableBytes { buffer in
        try HDF5Library.check("read strings", path) { read(memoryType.id, buffer.baseAddress!) }
    }
    return (0..<count).map { index in
        var field = bytes[(index * Int(width))..<((index + 1) * Int(width))]
        if let end = field.firstIndex(of: 0) { field = field[field.startIndex..<end] }
        var text = String(decoding: field, as: UTF8.self)
        if padding == H5T_STR_SPACEPAD {
            while text.last == " " { text.removeLast() }
        }
        return text
    }
}
