/// One of HDF5's error numbers (`H5E_major_t` / `H5E_minor_t` identifiers) with the text HDF5
/// gives it, e.g. `Unable to open file`. Numbers are assigned when the library starts; match
/// on ``text`` to recognise a kind of failure across library versions.
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
/// catch let error as HDF5Error where error.minor?.text == "Unable to open file" { ... }
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

    public init(operation: String, path: String, message: String, major: HDF5ErrorNumber? = nil, minor: HDF5ErrorNumber? = nil) {
        self.operation = operation
        self.path = path
        self.message = message
        self.major = major
        self.minor = minor
    }

    public var description: String {
        "HDF5: cannot \(operation) '\(path)': \(message)"
    }
}
