import Foundation

/// Recognises a checkpoint's container by its first bytes, never by its name, and says what
/// other files are so that errors can name them.
enum FileSniffer {
    enum Verdict: Equatable {
        case container(CheckpointContainer)
        /// Not a checkpoint: what the file looks like instead.
        case other(String)
    }

    static func recognise(_ path: String) -> Verdict {
        describe(path)
    }

    private static func describe(_ path: String) -> Verdict {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .other("no such file")
        }
        if isDirectory.boolValue { return .other("it is a directory") }
        guard let handle = FileHandle(forReadingAtPath: path) else { return .other("the file cannot be opened for reading") }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 512)) ?? Data()
        if head.isEmpty { return .other("the file is empty (0 bytes)") }
        let bytes = [UInt8](head)
        let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        if bytes.starts(with: hdf5Signature) { return .container(.hdf5) }
        let text = String(decoding: bytes.prefix(200), as: UTF8.self)
        if text.hasPrefix("version https://git-lfs") {
            return .other("a Git LFS pointer, not the weights; run `git lfs pull` to fetch the real file")
        }
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .container(PT2Reader.isArchive(path) ? .pt2 : .torchZip) }
        // PROTO 2, then LONG1 of 10 bytes holding torch's magic number.
        if bytes.starts(with: [0x80, 0x02, 0x8A, 0x0A] + TorchLegacyReader.magicNumber) { return .container(.torchLegacy) }
        if bytes.first == 0x80, bytes.count > 1, bytes[1] <= 5 {
            return .other("a Python pickle, but not a torch.save file (no torch magic number); save it with torch.save or h5py")
        }
        if bytes.starts(with: [0x93] + Array("NUMPY".utf8)) { return .other("a NumPy .npy array, not a checkpoint") }
        // safetensors: an 8-byte little-endian header length, then the JSON header's '{'.
        if bytes.count > 8, bytes[8] == UInt8(ascii: "{"), bytes[0..<8].contains(where: { $0 != 0 }) { return .container(.safetensors) }
        if isTruncatedHDF5(handle: handle) { return .container(.hdf5) }
        return .other(
            "not HDF5, torch.save or safetensors: no signature any of them starts with "
                + "(\(head.count < 512 ? "\(head.count) bytes" : "unrecognised content"))")
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
