internal import CHDF5
import Foundation
import Synchronization

/// Serialises every call into libhdf5, which the Debian build does not make thread-safe,
/// and turns HDF5's error stack into ``HDF5Error`` values.
enum HDF5Library {
    private static let mutex = Mutex(())
    /// The thread inside ``locked(_:)``, 0 when none. The lock is re-entrant because a handle
    /// whose last reference goes inside a locked body closes itself (its deinit locks) there.
    private static let owner = Atomic<UInt>(0)

    /// Makes sure the library is open before the first call.
    private static let opened: Bool = {
        _ = H5open()
        // libhdf5 keeps the blocks it frees on free lists of its own, up to 1 MiB per kind of
        // object and 16 MiB of blocks by default, never handing them back to malloc: reading
        // 20,000 small datasets, 2-3 MiB of decoded headers stayed there beside the tensors. A
        // quarter of a MiB per list is as fast (the blocks a read reuses are few and small).
        let limit = Int32(freeListBytes)
        _ = H5set_free_list_limits(limit, limit, limit, limit, limit, limit)
        return true
    }()

    /// The most each of libhdf5's free lists keeps, and all lists of one kind together.
    static let freeListBytes = 256 << 10

    static func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let thread = currentThread()
        // Only this thread can have stored its own number, so the check races with nothing.
        if owner.load(ordering: .acquiring) == thread { return try body() }
        let outcome = mutex.withLock { _ -> Result<T, E> in
            owner.store(thread, ordering: .releasing)
            defer { owner.store(0, ordering: .releasing) }
            _ = opened
            // HDF5 would print its error stack to stderr; errors are reported through thrown values
            // instead. Thread-safe builds keep this setting per thread, so it is set on every call.
            _ = H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
            do throws(E) { return .success(try body()) } catch { return .failure(error) }
        }
        return try outcome.get()
    }

    private static func currentThread() -> UInt {
        #if os(Linux)
            return UInt(pthread_self())
        #else
            return UInt(bitPattern: pthread_self())
        #endif
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
            major: errorNumber(innermost.maj_num), minor: errorNumber(innermost.min_num), kind: kind(ofMinor: innermost.min_num))
    }

    /// The named kind of a minor error number; called under the lock, after H5open.
    private static func kind(ofMinor number: hid_t) -> HDF5Error.Kind? {
        let kinds: [(hid_t, HDF5Error.Kind)] = [
            (zoo_h5e_cantopenfile(), .cannotOpenFile), (zoo_h5e_nothdf5(), .notHDF5), (zoo_h5e_notfound(), .notFound),
            (zoo_h5e_cantopenobj(), .cannotOpenObject), (zoo_h5e_readerror(), .readFailed),
        ]
        return kinds.first { $0.0 == number }?.1
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
// Unchecked: it wraps a C identifier (hid_t), which every use passes to libhdf5 under the library lock.
final class HDF5Handle: @unchecked Sendable {
    enum Kind {
        case file, group, dataset, datatype, dataspace, attribute, propertyList, object
    }

    let id: hid_t
    let kind: Kind
    private let closed = Atomic<Bool>(false)

    init(_ id: hid_t, _ kind: Kind) {
        self.id = id
        self.kind = kind
    }

    /// Closes now, reporting HDF5's status; the deinit then does nothing. Writers close their
    /// file this way, so that a failed close (data not written) is an error, not silence.
    func close(_ path: String) throws {
        try HDF5Library.locked { () throws(HDF5Error) in
            guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
            guard closeCall() >= 0 else { throw HDF5Library.takeError("close \(kind)", path) }
        }
    }

    deinit {
        // Handles not closed explicitly were only read from; their status cannot change any data.
        HDF5Library.locked { if !closed.exchange(true, ordering: .acquiringAndReleasing) { _ = closeCall() } }
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
