internal import CHDF5

/// An open HDF5 file. The file stays open while this value or any object opened from it lives.
public final class HDF5File: Sendable {
    /// The path the file was opened or created with.
    public let path: String
    let handle: HDF5Handle

    private init(path: String, handle: HDF5Handle) {
        self.path = path
        self.handle = handle
    }

    /// Opens an existing file for reading only.
    public static func openReadOnly(_ path: String) throws -> HDF5File {
        try HDF5Library.locked {
            let isHDF5 = H5Fis_hdf5(path)
            guard isHDF5 > 0 else {
                if isHDF5 < 0 { throw HDF5Library.takeError("open file", path) }
                throw HDF5Error(operation: "open file", path: path, message: "not an HDF5 file (no HDF5 signature found)")
            }
        }
        let access = try readingProperties(path)
        let id = try HDF5Library.identifier("open file", path) {
            H5Fopen(path, zoo_h5f_acc_rdonly(), access.id)
        }
        return HDF5File(path: path, handle: HDF5Handle(id, .file))
    }

    /// libhdf5 keeps the object headers it has read in a metadata cache that grows to 32 MiB by
    /// default: for a file of many small tensors (20,000 of 1 KiB) that cache, not the tensors,
    /// was most of a read's memory. zoo reads each header once, in order, so a small cache costs
    /// no extra reads.
    static let metadataCacheBytes = 2 << 20

    private static func readingProperties(_ path: String) throws -> HDF5Handle {
        let access = HDF5Handle(
            try HDF5Library.identifier("create file access property list", path) { H5Pcreate(zoo_h5p_file_access()) },
            .propertyList)
        var config = H5AC_cache_config_t()
        config.version = H5AC__CURR_CACHE_CONFIG_VERSION
        try HDF5Library.check("read the metadata cache settings", path) { H5Pget_mdc_config(access.id, &config) }
        config.set_initial_size = true
        config.initial_size = metadataCacheBytes
        config.min_size = Swift.min(config.min_size, metadataCacheBytes)
        config.max_size = metadataCacheBytes
        try HDF5Library.check("limit the metadata cache", path) { H5Pset_mdc_config(access.id, &config) }
        return access
    }

    /// Creates a file, replacing any file at `path`. Link creation order is tracked so that
    /// readers see members in the order they were written.
    public static func create(_ path: String) throws -> HDF5File {
        let creation = try creationProperties(path)
        let id = try HDF5Library.identifier("create file", path) {
            H5Fcreate(path, zoo_h5f_acc_trunc(), creation.id, hid_t(H5P_DEFAULT))
        }
        return HDF5File(path: path, handle: HDF5Handle(id, .file))
    }

    /// Creates a file that lives in memory only (HDF5's core driver, no backing store); its bytes
    /// come out through ``image()``. Writers build files this way and write the bytes themselves:
    /// libhdf5 1.10 can fault after a failed disk write (a full disk), whereas a write of bytes
    /// fails cleanly. `name` only names the file in errors; `expectedBytes` sizes the first
    /// allocation, so that the image grows in one step.
    public static func createInMemory(name: String, expectedBytes: Int = 0) throws -> HDF5File {
        let access = HDF5Handle(
            try HDF5Library.identifier("create file access property list", name) { H5Pcreate(zoo_h5p_file_access()) },
            .propertyList)
        let increment = Swift.max(1 << 20, expectedBytes + (1 << 20))
        try HDF5Library.check("use the in-memory driver", name) { H5Pset_fapl_core(access.id, increment, false) }
        // Open files are told apart by name: a unique one lets writers work in parallel.
        let unique = "\(name)#in-memory-\(UInt64.random(in: .min ... .max))"
        let creation = try creationProperties(name)
        let id = try HDF5Library.identifier("create file", name) { H5Fcreate(unique, zoo_h5f_acc_trunc(), creation.id, access.id) }
        return HDF5File(path: name, handle: HDF5Handle(id, .file))
    }

    private static func creationProperties(_ path: String) throws -> HDF5Handle {
        let plist = HDF5Handle(
            try HDF5Library.identifier("create file property list", path) { H5Pcreate(zoo_h5p_file_create()) },
            .propertyList)
        try HDF5Library.check("track creation order", path) {
            H5Pset_link_creation_order(plist.id, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED))
        }
        return plist
    }

    /// The file's bytes as they would be on disk, after a flush.
    public func image() throws -> [UInt8] {
        try flush()
        return try HDF5Library.locked {
            let size = H5Fget_file_image(handle.id, nil, 0)
            guard size >= 0 else { throw HDF5Library.takeError("get file image", path) }
            var bytes = [UInt8](repeating: 0, count: size)
            let copied = bytes.withUnsafeMutableBytes { H5Fget_file_image(handle.id, $0.baseAddress, $0.count) }
            guard copied == size else { throw HDF5Library.takeError("get file image", path) }
            return bytes
        }
    }

    /// The root group, `/`.
    public func rootGroup() throws -> HDF5Group {
        try HDF5Group(openedIn: handle.id, name: "/", path: "/")
    }

    /// Flushes and closes the file, reporting HDF5's status. Objects opened from it must be
    /// released first (a writer's last step); after this the file cannot be used.
    public func close() throws {
        try flush()
        try handle.close(path)
    }

    /// Writes buffered data to disk.
    public func flush() throws {
        try HDF5Library.check("flush file", path) { H5Fflush(handle.id, H5F_SCOPE_GLOBAL) }
    }
}
