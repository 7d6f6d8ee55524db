internal import CHDF5
import Foundation

/// Serialises every call into libhdf5, which the Debian build does not make thread-safe,
/// and turns HDF5's error stack into ``HDF5Error`` values.
enum HDF5Library {
    private static let lock: NSRecursiveLock = {
        let lock = NSRecursiveLock()
        lock.name = "zoo.hdf5"
        return lock
    }()

    /// Makes sure the library is open before the first call.
    private static let opened: Bool = {
        _ = H5open()
        return true
    }()

    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        _ = opened
        // HDF5 would print its error stack to stderr; errors are reported through thrown values
        // instead. Thread-safe builds keep this setting per thread, so it is set on every call.
        _ = H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
        return try body()
    }

    /// The innermost entry of HDF5's error stack for this thread (its description, function,
    /// major and minor numbers) as an ``HDF5Error`` for `operation` on `path`; clears the stack.
    static func takeError(_ operation: String, _ path: String) -> HDF5Error {
        var entries: [H5E_error2_t] = []
        let walker: H5E_walk2_t = { _, entry, context in
            guard let entry, let context else { return 0 }
            context.assumingMemoryBound(to: [H5E_error2_t].self).pointee.append(entry.pointee)
            return 0
        }
        _ = withUnsafeMutablePointer(to: &entries) { pointer in
            H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_UPWARD, walker, pointer)
        }
        defer { _ = H5Eclear2(hid_t(H5E_DEFAULT)) }
        guard let innermost = entries.first else {
            return HDF5Error(operation: operation, path: path, message: "no message on the HDF5 error stack")
        }
        let description = innermost.desc.map { String(cString: $0) } ?? ""
        let function = innermost.func_name.map { String(cString: $0) } ?? "?"
        return HDF5Error(
            operation: operation, path: path, message: "\(description) (in \(function))",
            major: errorNumber(innermost.maj_num), minor: errorNumber(innermost.min_num))
    }

    private static func errorNumber(_ id: hid_t) -> HDF5ErrorNumber {
        var text = [CChar](repeating: 0, count: 256)
        let length = H5Eget_msg(id, nil, &text, text.count)
        let message = length > 0 ? String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        return HDF5ErrorNumber(number: Int64(id), text: message)
    }

    /// Runs an HDF5 call that returns an identifier, throwing when it is negative.
    static func identifier(_ operation: String, _ path: String, _ call: () -> hid_t) throws -> hid_t {
        try locked {
            let id = call()
            guard id >= 0 else {
                throw takeError(operation, path)
            }
            return id
        }
    }

    /// Runs an HDF5 call that returns a status, throwing when it is negative.
    static func check(_ operation: String, _ path: String, _ call: () -> herr_t) throws {
        try locked {
            guard call() >= 0 else {
                throw takeError(operation, path)
            }
        }
    }
}

/// Owns one HDF5 identifier and closes it exactly once with the matching close call.
final class HDF5Handle: @unchecked Sendable {
    enum Kind {
        case file, group, dataset, datatype, dataspace, attribute, propertyList, object
    }

    let id: hid_t
    let kind: Kind
    /// Guarded by the library lock.
    nonisolated(unsafe) private var closed = false

    init(_ id: hid_t, _ kind: Kind) {
        self.id = id
        self.kind = kind
    }

    /// Closes now, reporting HDF5's status; the deinit then does nothing. Writers close their
    /// file this way, so that a failed close (data not written) is an error, not silence.
    func close(_ path: String) throws {
        try HDF5Library.locked {
            guard !closed else { return }
            closed = true
            guard closeCall() >= 0 else { throw HDF5Library.takeError("close \(kind)", path) }
        }
    }

    deinit {
        // Handles not closed explicitly were only read from; their status cannot change any data.
        HDF5Library.locked { if !closed { _ = closeCall() } }
    }

    private func closeCall() -> herr_t {
        switch kind {
        case .file: return H5Fclose(id)
        case .group: return H5Gclose(id)
        case .dataset: return H5Dclose(id)
        case .datatype: return H5Tclose(id)
        case .dataspace: return H5Sclose(id)
        case .attribute: return H5Aclose(id)
        case .propertyList: return H5Pclose(id)
        case .object: return H5Oclose(id)
        }
    }
}
