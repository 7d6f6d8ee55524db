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
        let id = try HDF5Library.identifier("open file", path) {
            H5Fopen(path, zoo_h5f_acc_rdonly(), hid_t(H5P_DEFAULT))
        }
        return HDF5File(path: path, handle: HDF5Handle(id, .file))
    }

    /// Creates a file, replacing any file at `path`. Link creation order is tracked so that
    /// readers see members in the order they were written.
    public static func create(_ path: String) throws -> HDF5File {
        let plist = HDF5Handle(
            try HDF5Library.identifier("create file property list", path) { H5Pcreate(zoo_h5p_file_create()) },
            .propertyList)
        try HDF5Library.check("track creation order", path) {
            H5Pset_link_creation_order(plist.id, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED))
        }
        let id = try HDF5Library.identifier("create file", path) {
            H5Fcreate(path, zoo_h5f_acc_trunc(), plist.id, hid_t(H5P_DEFAULT))
        }
        return HDF5File(path: path, handle: HDF5Handle(id, .file))
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
