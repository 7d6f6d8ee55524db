/// One of HDF5's error numbers (`H5E_major_t` / `H5E_minor_t` identifiers) with the text HDF5
/// gives it, e.g. `Unable to open file`. Numbers are assigned when the library starts; match on
/// ``HDF5Error/kind`` (named after HDF5's constants) to recognise a kind of failure.
public struct HDF5ErrorNumber: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var number: Int64
    public var text: String

    public init(number: Int64, text: String) {
        self.number = number
        self.text = text
    }

    public var description: String { "\(text) (\(number))" }
}

/// A failed HDF5 call, explained: what was attempted, on which object, and what HDF5 said,
/// with HDF5's major and minor error numbers when the failure came from HDF5's error stack.
///
/// ```swift
/// do { _ = try HDF5File.openReadOnly(path) }
/// catch let error as HDF5Error where error.kind == .cannotOpenFile { ... }
/// ```
public struct HDF5Error: Error, CustomStringConvertible, Equatable, Sendable {
    /// The operation that failed, e.g. `open file` or `read dataset`.
    public var operation: String
    /// The file path or the object path inside the file.
    public var path: String
    /// The innermost message of HDF5's error stack, or our own reason when HDF5 was not asked.
    public var message: String
    /// HDF5's major error number (the library's area, e.g. `Dataset`), when HDF5 reported one.
    public var major: HDF5ErrorNumber?
    /// HDF5's minor error number (the kind of failure, e.g. `Unable to open file`).
    public var minor: HDF5ErrorNumber?
    /// The minor number by name, when it is one of the few callers match on.
    public var kind: Kind?

    /// HDF5's minor error numbers that callers match on, named after HDF5's constants.
    public enum Kind: Sendable, Equatable, CaseIterable {
        /// `H5E_CANTOPENFILE`: the file cannot be opened (missing, unreadable, damaged superblock).
        case cannotOpenFile
        /// `H5E_NOTHDF5`: no HDF5 signature.
        case notHDF5
        /// `H5E_NOTFOUND`: no object (group, dataset, attribute) of that name.
        case notFound
        /// `H5E_CANTOPENOBJ`: the object exists but cannot be opened.
        case cannotOpenObject
        /// `H5E_READERROR`: reading the file's bytes failed.
        case readFailed
    }

    public init(
        operation: String, path: String, message: String, major: HDF5ErrorNumber? = nil, minor: HDF5ErrorNumber? = nil,
        kind: Kind? = nil
    ) {
        self.operation = operation
        self.path = path
        self.message = message
        self.major = major
        self.minor = minor
        self.kind = kind
    }

    public var description: String {
        "HDF5: cannot \(operation) '\(path)': \(message)"
    }
}
