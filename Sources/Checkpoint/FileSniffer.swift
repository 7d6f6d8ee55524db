import Foundation

/// Recognises files that are not HDF5 so that errors can say what they are instead.
enum FileSniffer {
    /// A description of what the file is when it is clearly not an HDF5 file, else nil.
    static func describeNonHDF5(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return "no such file"
        }
        if isDirectory.boolValue { return "it is a directory" }
        guard let handle = FileHandle(forReadingAtPath: path) else { return "the file cannot be opened for reading" }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 512)) ?? Data()
        if head.isEmpty { return "the file is empty (0 bytes)" }
        let bytes = [UInt8](head)
        let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        if bytes.starts(with: hdf5Signature) { return nil }
        let text = String(decoding: bytes.prefix(200), as: UTF8.self)
        if text.hasPrefix("version https://git-lfs") {
            return "a Git LFS pointer, not the weights; run `git lfs pull` to fetch the real file"
        }
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            return "a ZIP archive, as torch.save writes; export the state_dict with h5py (see Tools/zoo_h5.py) instead"
        }
        if bytes.first == 0x80, bytes.count > 1, bytes[1] <= 5 {
            return "a Python pickle (legacy torch.save); export the state_dict with h5py instead"
        }
        if bytes.starts(with: [0x93] + Array("NUMPY".utf8)) { return "a NumPy .npy array, not a checkpoint" }
        if isTruncatedHDF5(handle: handle) { return nil }
        return "no HDF5 signature at the start of the file (\(head.count < 512 ? "\(head.count) bytes" : "unrecognised content"))"
    }

    /// HDF5 may also place its signature at 512, 1024, 2048, ... bytes (a user block).
    private static func isTruncatedHDF5(handle: FileHandle) -> Bool {
        let signature = Data([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A])
        var offset: UInt64 = 512
        while offset <= 1 << 20 {
            guard (try? handle.seek(toOffset: offset)) != nil, let chunk = try? handle.read(upToCount: 8), chunk.count == 8 else {
                return false
            }
            if chunk == signature { return true }
            offset *= 2
        }
        return false
    }
}
