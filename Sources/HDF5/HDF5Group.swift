internal import CHDF5

/// A member of a group, as listed by ``HDF5Group/members()``.
public struct HDF5Member: Equatable, Sendable {
    public enum Kind: Equatable, Sendable { case group, dataset, other }
    public var name: String
    public var kind: Kind
    /// Where a hard link points in the file, for opening the dataset by it (`openDataset(member)`); nil
    /// for other links, and with libhdf5 1.12 or later (objects named by token there).
    public internal(set) var address: UInt64? = nil
}

/// An open HDF5 group.
// Unchecked: immutable, around an HDF5Handle (a C identifier used only under the library lock).
public final class HDF5Group: HDF5Object, @unchecked Sendable {
    init(openedIn location: hid_t, name: String, path: String) throws {
        let id = try HDF5Library.identifier("open group", path) { H5Gopen2(location, name, hid_t(H5P_DEFAULT)) }
        super.init(path: path, handle: HDF5Handle(id, .group))
    }

    private init(createdIn location: hid_t, name: String, path: String) throws {
        let plist = HDF5Handle(
            try HDF5Library.identifier("create group property list", path) { H5Pcreate(zoo_h5p_group_create()) },
            .propertyList)
        try HDF5Library.check("track creation order", path) {
            H5Pset_link_creation_order(plist.id, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED))
        }
        try HDF5Library.check("leave out times", path) { H5Pset_obj_track_times(plist.id, false) }
        let id = try HDF5Library.identifier("create group", path) {
            H5Gcreate2(location, name, hid_t(H5P_DEFAULT), plist.id, hid_t(H5P_DEFAULT))
        }
        super.init(path: path, handle: HDF5Handle(id, .group))
    }

    func childPath(_ name: String) -> String {
        path == "/" ? "/\(name)" : "\(path)/\(name)"
    }

    /// The group's members in creation order when the file tracks it, else in name order.
    public func members() throws -> [HDF5Member] {
        var info = H5G_info_t()
        try HDF5Library.check("list group", path) { H5Gget_info(handle.id, &info) }
        let index = info.max_corder > 0 && tracksCreationOrder() ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME
        // One pass over the links: asking for the n-th name in name order has libhdf5 sort the
        // whole group again for every n (20,000 datasets in one group took 25 s to list).
        var links: [(name: String, address: UInt64?)] = []
        links.reserveCapacity(Int(min(info.nlinks, 1 << 16)))
        try HDF5Library.check("list group", path) {
            withUnsafeMutablePointer(to: &links) { links in
                var position: hsize_t = 0
                return H5Literate(
                    handle.id, index, H5_ITER_INC, &position,
                    { _, name, info, links in
                        guard let name, let links else { return -1 }
                        let address = UInt64(zoo_link_address(info))
                        links.assumingMemoryBound(to: [(name: String, address: UInt64?)].self).pointee.append(
                            (String(cString: name), address == 0 ? nil : address))
                        return 0
                    }, links)
            }
        }
        return links.map { HDF5Member(name: $0.name, kind: kind(of: $0.name), address: $0.address) }
    }

    private func tracksCreationOrder() -> Bool {
        HDF5Library.locked {
            let plist = H5Gget_create_plist(handle.id)
            guard plist >= 0 else { _ = HDF5Library.takeError("", path); return false }
            defer { H5Pclose(plist) }
            var flags: UInt32 = 0
            guard H5Pget_link_creation_order(plist, &flags) >= 0 else { _ = HDF5Library.takeError("", path); return false }
            return flags & UInt32(H5P_CRT_ORDER_INDEXED) != 0
        }
    }

    /// The member's kind from its object header's basic fields alone: opening the object also
    /// decodes what a dataset describes (layout, type, space), work a listing throws away
    /// (`zoo inspect` of 20,000 datasets of 1 KiB: 2.2-2.4 s against 2.7-3.2 s).
    private func kind(of name: String) -> HDF5Member.Kind {
        HDF5Library.locked {
            var info = H5O_info_t()
            guard H5Oget_info_by_name2(handle.id, name, &info, UInt32(H5O_INFO_BASIC), hid_t(H5P_DEFAULT)) >= 0 else {
                _ = HDF5Library.takeError("", path)
                return .other
            }
            switch info.type {
            case H5O_TYPE_GROUP: return .group
            case H5O_TYPE_DATASET: return .dataset
            default: return .other
            }
        }
    }

    /// Runs `body` with the file's metadata cache limited to `bytes`, then restores its settings.
    /// libhdf5 counts a cached object header by its bytes on disk, a few hundred, but holds it
    /// decoded, several KiB (a dataset's layout message alone is 2.3): reading 20,000 small
    /// datasets, its default 2 MiB held 18 MiB. Reading datasets opened by address
    /// (`openDataset(member)`), each header is used once, so a small cache costs no
    /// reads; looking names up in a large group is what needs a larger one.
    public func withMetadataCacheLimited<T>(to bytes: Int, _ body: () throws -> T) throws -> T {
        let file = HDF5Handle(try HDF5Library.identifier("find the file", path) { H5Iget_file_id(handle.id) }, .file)
        var saved = H5AC_cache_config_t()
        saved.version = H5AC__CURR_CACHE_CONFIG_VERSION
        try HDF5Library.check("read the metadata cache settings", path) { H5Fget_mdc_config(file.id, &saved) }
        var limited = saved
        limited.set_initial_size = true
        limited.initial_size = min(saved.max_size, bytes)
        limited.min_size = min(saved.min_size, limited.initial_size)
        limited.max_size = limited.initial_size
        try HDF5Library.check("limit the metadata cache", path) { H5Fset_mdc_config(file.id, &limited) }
        defer {
            saved.set_initial_size = true
            saved.initial_size = saved.max_size
            _ = try? HDF5Library.check("restore the metadata cache", path) { H5Fset_mdc_config(file.id, &saved) }
        }
        return try body()
    }

    /// Opens the member group `name`.
    public func openGroup(_ name: String) throws -> HDF5Group {
        try HDF5Group(openedIn: handle.id, name: name, path: childPath(name))
    }

    /// Opens the member dataset `name`.
    public func openDataset(_ name: String) throws -> HDF5Dataset {
        try HDF5Dataset(openedIn: handle.id, name: name, path: childPath(name))
    }

    /// Opens a dataset ``members()`` listed, at the address its link points to: no lookup of its
    /// name in the group's index, so that the metadata cache need not keep that index (a heap of
    /// 20,000 names is 720 KB) while the datasets are read.
    public func openDataset(_ member: HDF5Member) throws -> HDF5Dataset {
        guard let address = member.address else { return try openDataset(member.name) }
        let path = childPath(member.name)
        let id = try HDF5Library.identifier("open dataset", path) { zoo_open_by_address(handle.id, haddr_t(address)) }
        let object = HDF5Handle(id, .object)
        guard HDF5Library.locked({ H5Iget_type(id) }) == H5I_DATASET else {
            throw HDF5Error(operation: "open dataset", path: path, message: "the link points to an object that is not a dataset")
        }
        return HDF5Dataset(path: path, handle: object)
    }

    /// Creates a member group that tracks creation order.
    public func createGroup(_ name: String) throws -> HDF5Group {
        try HDF5Group(createdIn: handle.id, name: name, path: childPath(name))
    }

    /// Creates a dataset of `shape` (empty for a scalar dataspace) holding `elements`, which are
    /// laid out row-major in native byte order as `type` describes.
    @discardableResult
    public func createDataset(
        _ name: String, shape: [Int], type: HDF5MemoryType, elements: UnsafeRawBufferPointer
    ) throws -> HDF5Dataset {
        let datasetPath = childPath(name)
        let count = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), elements.count == count * type.byteCount else {
            throw HDF5Error(
                operation: "create dataset", path: datasetPath,
                message: "\(elements.count) bytes do not fill shape \(shape) of \(type) elements")
        }
        let space: HDF5Handle
        if shape.isEmpty {
            space = try scalarSpace(path: datasetPath)
        } else {
            let dims = shape.map { hsize_t($0) }
            space = HDF5Handle(
                try HDF5Library.identifier("create dataspace", datasetPath) {
                    H5Screate_simple(Int32(dims.count), dims, nil)
                }, .dataspace)
        }
        let fileType = try type.fileType(path: datasetPath)
        let memoryType = try type.nativeType(path: datasetPath)
        let creation = try untimedDatasetCreation(path: datasetPath)
        let id = try HDF5Library.identifier("create dataset", datasetPath) {
            H5Dcreate2(handle.id, name, fileType.id, space.id, hid_t(H5P_DEFAULT), creation.id, hid_t(H5P_DEFAULT))
        }
        let dataset = HDF5Dataset(path: datasetPath, handle: HDF5Handle(id, .dataset))
        if count > 0, let base = elements.baseAddress {
            try HDF5Library.check("write dataset", datasetPath) {
                H5Dwrite(id, memoryType.id, zoo_h5s_all(), zoo_h5s_all(), hid_t(H5P_DEFAULT), base)
            }
        }
        return dataset
    }

    /// A dataset creation list without modification times, which libhdf5 otherwise stamps into
    /// each object header: the same contents then give the same file bytes on every write.
    private func untimedDatasetCreation(path: String) throws -> HDF5Handle {
        let list = HDF5Handle(
            try HDF5Library.identifier("create dataset property list", path) { H5Pcreate(zoo_h5p_dataset_create()) }, .propertyList)
        try HDF5Library.check("leave out times", path) { H5Pset_obj_track_times(list.id, false) }
        return list
    }

    /// Creates a scalar variable-length UTF-8 string dataset, as h5py writes a Python `str`.
    @discardableResult
    public func createStringDataset(_ name: String, value: String) throws -> HDF5Dataset {
        let datasetPath = childPath(name)
        let type = try variableStringType(path: datasetPath)
        let space = try scalarSpace(path: datasetPath)
        let creation = try untimedDatasetCreation(path: datasetPath)
        let id = try HDF5Library.identifier("create dataset", datasetPath) {
            H5Dcreate2(handle.id, name, type.id, space.id, hid_t(H5P_DEFAULT), creation.id, hid_t(H5P_DEFAULT))
        }
        let dataset = HDF5Dataset(path: datasetPath, handle: HDF5Handle(id, .dataset))
        try value.withCString { cString in
            var pointer: UnsafePointer<CChar>? = cString
            try HDF5Library.check("write dataset", datasetPath) {
                H5Dwrite(id, type.id, zoo_h5s_all(), zoo_h5s_all(), hid_t(H5P_DEFAULT), &pointer)
            }
        }
        return dataset
    }
}
