/// A failed HDF5 call, explained: what was attempted, on which object, and what HDF5 said.
public struct HDF5Error: Error, CustomStringConvertible, Equatable, Sendable {
    /// The operation that failed, e.g. `open file` or `read dataset`.
    public var operation: String
    /// The file path or the object path inside the file.
    public var path: String
    /// The innermost message of HDF5's error stack, or our own reason when HDF5 was not asked.
    public var message: String

    public init(operation: String, path: String, message: String) {
        self.operation = operation
        self.path = path
        self.message = message
    }

    public var description: String {
        "HDF5: cannot \(operation) '\(path)': \(message)"
    }
}
