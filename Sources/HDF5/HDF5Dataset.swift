internal import CHDF5
import Foundation

/// An open HDF5 dataset.
// Unchecked: immutable, around an HDF5Handle (a C identifier used only under the library lock).
public final class HDF5Dataset: HDF5Object, @unchecked Sendable {
    init(openedIn location: hid_t, name: String, path: String) throws {
        let id = try HDF5Library.identifier("open dataset", path) { H5Dopen2(location, name, hid_t(H5P_DEFAULT)) }
        super.init(path: path, handle: HDF5Handle(id, .dataset))
    }

    override init(path: String, handle: HDF5Handle) {
        super.init(path: path, handle: handle)
    }

    /// The extent: `[]` for a scalar dataspace, one entry per axis otherwise.
    public func shape() throws -> [Int] {
        let space = HDF5Handle(try HDF5Library.identifier("read dataspace", path) { H5Dget_space(handle.id) }, .dataspace)
        return try HDF5Library.locked {
            switch H5Sget_simple_extent_type(space.id) {
            case H5S_SCALAR: return []
            case H5S_NULL: throw HDF5Error(operation: "read dataspace", path: path, message: "the dataset has a null dataspace (no data)")
            default: break
            }
            let rank = H5Sget_simple_extent_ndims(space.id)
            guard rank >= 0 else {
                throw HDF5Library.takeError("read dataspace", path)
            }
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            guard H5Sget_simple_extent_dims(space.id, &dims, nil) >= 0 else {
                throw HDF5Library.takeError("read dataspace", path)
            }
            return dims.map { Int($0) }
        }
    }

    /// The element type stored in the file.
    public func elementType() throws -> HDF5ElementType {
        let type = try fileType()
        return try describeElementType(type.id, path: path)
    }

    private func fileType() throws -> HDF5Handle {
        HDF5Handle(try HDF5Library.identifier("read datatype", path) { H5Dget_type(handle.id) }, .datatype)
    }

    /// Reads every element, converted by HDF5 into `type` in native byte order, row-major.
    /// Refuses extents whose size overflows or exceeds this machine's memory (a damaged file).
    public func read(as type: HDF5MemoryType) throws -> [UInt8] {
        try read(as: type) { byteCount, fill in
            var bytes = [UInt8](repeating: 0, count: byteCount)
            try bytes.withUnsafeMutableBytes { try fill($0) }
            return bytes
        }
    }

    /// Reads the bytes of a dataset that lie in the file exactly as they are wanted in memory:
    /// `buffer.count` bytes from `offset` of the file open as `descriptor` (libhdf5's own, borrowed
    /// for the call; read it with `pread`, which keeps no shared position).
    public typealias FileBytesReader = (_ descriptor: Int32, _ offset: Int, _ buffer: UnsafeMutableRawBufferPointer) throws -> Void

    /// Reads every element, converted into `type`, into memory the caller allocates (a tensor's
    /// storage, so that the elements are copied once): after the checks ``read(as:)`` makes,
    /// `allocate` gets the byte count and a function that fills a buffer of exactly that many bytes.
    /// A dataset of ``fileBytesFrom`` bytes or more whose bytes need no conversion and lie in the
    /// file as one run (contiguous, unfiltered, on the POSIX driver) is handed to `fileBytes`, when
    /// given, instead of `H5Dread`, which reads on the calling thread alone.
    public func read<Result>(
        as type: HDF5MemoryType, fileBytes: FileBytesReader? = nil,
        into allocate: (_ byteCount: Int, _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> Result
    ) throws -> Result {
        let extent = try shape()
        var count = 1
        var byteCount = type.byteCount
        for dimension in extent {
            let (elements, overflow) = count.multipliedReportingOverflow(by: dimension)
            let (bytes, bytesOverflow) = byteCount.multipliedReportingOverflow(by: dimension)
            guard !overflow, !bytesOverflow, UInt64(bytes) <= ProcessInfo.processInfo.physicalMemory else {
                throw HDF5Error(
                    operation: "read dataset", path: path,
                    message: "extent \(extent) of \(type) is larger than this machine's memory; the file may be damaged")
            }
            count = elements
            byteCount = bytes
        }
        try requireAvailableFilters()
        try requireLocalStorage(elements: count)
        let memoryType = try type.nativeType(path: path)
        return try allocate(byteCount) { buffer in
            guard buffer.count == byteCount else {
                throw HDF5Error(operation: "read dataset", path: path, message: "a buffer of \(buffer.count) bytes for \(byteCount)")
            }
            guard byteCount > 0, let base = buffer.baseAddress else { return }
            if let fileBytes, byteCount >= Self.fileBytesFrom,
                let (descriptor, offset) = try self.fileBytes(of: memoryType, byteCount: byteCount)
            {
                try fileBytes(descriptor, offset, buffer)
                return
            }
            try HDF5Library.check("read dataset as \(type)", path) {
                H5Dread(handle.id, memoryType.id, zoo_h5s_all(), zoo_h5s_all(), hid_t(H5P_DEFAULT), base)
            }
        }
    }

    /// Datasets this large are offered to a ``FileBytesReader``: below it, the checks cost more
    /// than a read on another thread saves.
    public static let fileBytesFrom = 2 << 20

    /// The file descriptor and offset of the dataset's bytes, when they lie in the file exactly as
    /// they are wanted in memory: one contiguous run, written in full, no filters, no external
    /// storage, the file's element type the memory type, a file on the POSIX driver (no user
    /// block).
    private func fileBytes(of memoryType: HDF5Handle, byteCount: Int) throws -> (descriptor: Int32, offset: Int)? {
        let type = try fileType()
        return HDF5Library.locked { () -> (descriptor: Int32, offset: Int)? in
            guard H5Tequal(type.id, memoryType.id) > 0 else { return nil }
            let plist = H5Dget_create_plist(handle.id)
            guard plist >= 0 else { return nil }
            defer { H5Pclose(plist) }
            guard H5Pget_layout(plist) == H5D_CONTIGUOUS, H5Pget_nfilters(plist) == 0, H5Pget_external_count(plist) == 0,
                H5Dget_storage_size(handle.id) == hsize_t(byteCount)
            else { return nil }
            let offset = H5Dget_offset(handle.id)
            guard offset != zoo_haddr_undef(), offset < haddr_t(Int.max) else { return nil }
            let file = H5Iget_file_id(handle.id)
            guard file >= 0 else { return nil }
            defer { H5Fclose(file) }
            let access = H5Fget_access_plist(file)
            guard access >= 0 else { return nil }
            defer { H5Pclose(access) }
            let creation = H5Fget_create_plist(file)
            guard creation >= 0 else { return nil }
            defer { H5Pclose(creation) }
            var userBlock: hsize_t = 0
            guard H5Pget_driver(access) == zoo_h5fd_sec2(), H5Pget_userblock(creation, &userBlock) >= 0, userBlock == 0 else {
                return nil
            }
            var driverHandle: UnsafeMutableRawPointer?
            guard H5Fget_vfd_handle(file, hid_t(H5P_DEFAULT), &driverHandle) >= 0, let driverHandle else { return nil }
            return (driverHandle.load(as: Int32.self), Int(offset))
        }
    }

    /// The most a gzip-compressed chunk expands (DEFLATE's limit is about 1032:1), with room for
    /// headers: a dataset claiming more elements than its stored bytes can give is refused
    /// before the buffer for it is allocated.
    static let maximumExpansion = 1100

    /// Refuses data that lives outside the file (virtual datasets, external storage) and extents
    /// the stored bytes cannot fill: a contiguous dataset needs its bytes in the file, a chunked
    /// one cannot expand beyond what compression allows.
    private func requireLocalStorage(elements: Int) throws {
        let type = try fileType()
        let fileElementBytes = withExtendedLifetime(type) { HDF5Library.locked { H5Tget_size(type.id) } }
        guard fileElementBytes > 0 else { throw HDF5Library.takeError("read datatype size", path) }
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: Int(fileElementBytes))
        guard !overflow else { throw HDF5Error(operation: "read dataset", path: path, message: "its size overflows; the file is damaged") }
        try HDF5Library.locked {
            let plist = H5Dget_create_plist(handle.id)
            guard plist >= 0 else { throw HDF5Library.takeError("read dataset properties", path) }
            defer { H5Pclose(plist) }
            let layout = H5Pget_layout(plist)
            if layout == H5D_VIRTUAL {
                throw HDF5Error(
                    operation: "read dataset", path: path,
                    message: "a virtual dataset, whose data lives in other files; zoo reads only what is in the file")
            }
            if H5Pget_external_count(plist) > 0 {
                throw HDF5Error(
                    operation: "read dataset", path: path, message: "stored in external files; zoo reads only what is in the file")
            }
            let stored = Int(clamping: H5Dget_storage_size(handle.id))
            switch layout {
            case H5D_CONTIGUOUS:
                // Unwritten contiguous datasets store nothing and read as fill values: allow small ones only.
                guard stored >= byteCount || (stored == 0 && byteCount <= 1 << 20) else {
                    throw HDF5Error(
                        operation: "read dataset", path: path,
                        message: "declares \(byteCount) bytes but the file stores \(stored); the file is damaged or crafted")
                }
            case H5D_CHUNKED:
                let (limit, overflow) = stored.multipliedReportingOverflow(by: Self.maximumExpansion)
                guard overflow || byteCount <= limit + (1 << 20) else {
                    throw HDF5Error(
                        operation: "read dataset", path: path,
                        message:
                            "declares \(byteCount) bytes from \(stored) stored, more than any compression gives; the file is damaged or crafted"
                    )
                }
            default:
                break
            }
        }
    }

    /// HDF5 reports a missing filter plugin as a failure to open a plugin folder; name the filter instead.
    private func requireAvailableFilters() throws {
        try HDF5Library.locked {
            let plist = H5Dget_create_plist(handle.id)
            guard plist >= 0 else {
                throw HDF5Library.takeError("read dataset properties", path)
            }
            defer { H5Pclose(plist) }
            let count = H5Pget_nfilters(plist)
            guard count > 0 else { return }
            for index in 0..<UInt32(count) {
                var flags: UInt32 = 0
                var valueCount = 0
                var name = [CChar](repeating: 0, count: 256)
                var configuration: UInt32 = 0
                let filter = H5Pget_filter2(plist, index, &flags, &valueCount, nil, name.count, &name, &configuration)
                guard filter >= 0 else { continue }
                if H5Zfilter_avail(filter) <= 0 {
                    let label = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    throw HDF5Error(
                        operation: "read dataset", path: path,
                        message:
                            "compressed with filter \(filter) ('\(label.isEmpty ? "unnamed" : label)'), which this HDF5 library cannot decode; re-export without compression or with compression=\"gzip\""
                    )
                }
            }
        }
    }

    /// Reads a string dataset (variable or fixed length, UTF-8 or ASCII); scalar or the first element.
    public func readString() throws -> String {
        let type = try fileType()
        guard try describeElementType(type.id, path: path) == .string else {
            throw HDF5Error(operation: "read string", path: path, message: "the dataset does not hold strings")
        }
        let count = try elementCount(
            ofSpace: HDF5Library.identifier("read dataspace", path) { H5Dget_space(handle.id) }, path: path)
        let strings = try readStrings(fileType: type.id, count: count, path: path) { memoryType, buffer in
            H5Dread(handle.id, memoryType, zoo_h5s_all(), zoo_h5s_all(), hid_t(H5P_DEFAULT), buffer)
        }
        guard let first = strings.first else {
            throw HDF5Error(operation: "read string", path: path, message: "the dataset is empty")
        }
        return first
    }
}
