internal import CZlibChecksum
import Foundation
import Tensor
import ZIPFoundation

/// `torch.save` files since PyTorch 1.6: a zip archive (read with ZIPFoundation) holding
/// `<archive>/data.pkl`, one entry per storage under `<archive>/data/`, `<archive>/byteorder`
/// and `<archive>/version`.
///
/// A storage that one tensor uses whole (the common case: each parameter its own storage) is
/// read straight into that tensor's memory; shared storages and views are read once into a
/// buffer that lives only until its tensors are copied out. Every entry's CRC-32 is checked.
enum TorchZipReader: CheckpointContainerReader {
    static let container = CheckpointContainer.torchZip

    static func read(_ path: String) throws(CheckpointError) -> RawCheckpoint {
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw .damaged(path: path, reason: "not a readable zip archive (\(error)); the file may be truncated")
        }
        let fileSize = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
        let entries = ZipEntries(archive: archive, fileSize: fileSize, path: path)
        guard let pickleEntry = archive.first(where: { $0.path.hasSuffix("data.pkl") && $0.type == .file }) else {
            throw .damaged(path: path, reason: "the zip archive holds no data.pkl, so it is not a torch.save file")
        }
        let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
        let pickle = try entries.bytes(of: pickleEntry)
        var bigEndian = false
        if let entry = archive[prefix + "byteorder"] {
            let order = String(decoding: try entries.bytes(of: entry), as: UTF8.self)
            guard order == "little" || order == "big" else { throw .damaged(path: path, reason: "byteorder is '\(order)'") }
            bigEndian = order == "big"
        }  // Files from before PyTorch wrote the byte order are little-endian.

        do {
            return try pickle.withUnsafeBytes { pickleBytes in
                try readTensors(pickleBytes, archive: archive, entries: entries, prefix: prefix, bigEndian: bigEndian, path: path)
            }
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .damaged(path: path, reason: "\(error)")
        }
    }

    private static func readTensors(
        _ pickle: UnsafeRawBufferPointer, archive: Archive, entries: ZipEntries, prefix: String, bigEndian: Bool, path: String
    ) throws(CheckpointError) -> RawCheckpoint {
        var unpickler = Unpickler(pickle)
        unpickler.persistentLoad = { id throws(PickleError) in .storage(try TorchStateDict.storage(fromPersistentID: id)) }
        do {
            let (references, notes) = try TorchStateDict.tensors(in: try unpickler.load())
            let crcs = ParallelChecksums()
            defer { _ = crcs.waitForFailures() }
            var users: [String: Int] = [:]
            for (_, reference) in references { users[reference.storage.key, default: 0] += 1 }
            var shared: [String: [UInt8]] = [:]
            var entriesRead: [(String, Tensor)] = []
            entriesRead.reserveCapacity(references.count)
            for (key, reference) in references {
                let storage = reference.storage
                guard let entry = archive[prefix + "data/" + storage.key] else {
                    throw PickleError.damaged("the archive lacks storage '\(storage.key)' that tensor '\(key)' uses")
                }
                let width = storage.dtype.dtype.byteCount
                guard entry.uncompressedSize >= UInt64(storage.elementCount) * UInt64(width) else {
                    throw PickleError.damaged(
                        "storage '\(storage.key)' holds \(entry.uncompressedSize) bytes, shorter than its \(storage.elementCount) "
                            + "\(storage.dtype.dtype) elements; the file is damaged")
                }
                let wholeStorage =
                    reference.offset == 0 && storage.viewOffset == 0 && TorchStateDict.isContiguous(reference)
                    && Tensor.elementCount(reference.shape) == storage.elementCount
                    && entry.uncompressedSize == UInt64(storage.elementCount * width)
                if users[storage.key] == 1 && wholeStorage && !bigEndian && hostIsLittleEndian && storage.dtype.dtype != .bool {
                    let tensor: Tensor
                    do {
                        tensor = try Tensor(shape: reference.shape, dtype: storage.dtype.dtype) { buffer in
                            try entries.read(entry, into: buffer, checksum: false)
                        }
                    } catch { throw PickleError.damaged("tensor '\(key)': \(error)") }
                    // The tensor's bytes are the entry's: its CRC is checked on another core.
                    crcs.verify(tensor.storage, expected: entry.checksum, entry: entry.path)
                    entriesRead.append((key, tensor))
                    continue
                }
                if shared[storage.key] == nil {
                    var bytes: [UInt8]
                    do { bytes = try entries.bytes(of: entry) } catch { throw PickleError.damaged("\(error)") }
                    if bigEndian { swapByteOrder(&bytes, elementWidth: width) }
                    shared[storage.key] = bytes
                }
                do {
                    let bytes = shared[storage.key] ?? []
                    entriesRead.append((key, try bytes.withUnsafeBytes { try TorchStateDict.materialise(reference, storageBytes: $0) }))
                } catch {
                    throw PickleError.damaged("tensor '\(key)': \(error)")
                }
                users[storage.key, default: 1] -= 1
                if users[storage.key] == 0 { shared[storage.key] = nil }  // Its last tensor is out.
            }
            if let failed = crcs.waitForFailures().first {
                throw PickleError.damaged("entry \(failed) fails its CRC-32 check; the file is damaged")
            }
            var raw = RawCheckpoint(container: container, entries: entriesRead, manifest: nil, notes: notes)
            raw.pickleGlobals = unpickler.globals
            if bigEndian { raw.notes.append("converted big-endian storages to this machine's byte order") }
            return raw
        } catch let error as PickleError {
            throw CheckpointError(error, path: path)
        } catch {
            throw .damaged(path: path, reason: "\(error)")
        }
    }
}

/// Reads zip entries whole, checking each one's CRC-32 with zlib.
private struct ZipEntries {
    let archive: Archive
    let fileSize: UInt64
    let path: String

    /// An entry's bytes. Its declared size is bounded by the file's (torch stores entries
    /// uncompressed), so a damaged size cannot make it allocate more.
    func bytes(of entry: Entry) throws(CheckpointError) -> [UInt8] {
        try check(entry)
        var bytes = [UInt8](repeating: 0, count: Int(entry.uncompressedSize))
        var failure: CheckpointError?
        bytes.withUnsafeMutableBytes { buffer in
            do throws(CheckpointError) { try read(entry, into: buffer) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Streams an entry into `buffer`, which must be exactly its size, checking its CRC-32 here
    /// unless `checksum` is false (the caller then checks it, on another core).
    func read(_ entry: Entry, into buffer: UnsafeMutableRawBufferPointer, checksum: Bool = true) throws(CheckpointError) {
        try check(entry)
        guard UInt64(buffer.count) == entry.uncompressedSize else {
            throw .damaged(path: path, reason: "entry \(entry.path) holds \(entry.uncompressedSize) bytes, not \(buffer.count)")
        }
        var written = 0
        var crc = crc32(0, nil, 0)
        do {
            _ = try archive.extract(entry, bufferSize: 256 << 10, skipCRC32: true) { data in
                guard written + data.count <= buffer.count else { throw ZipReadError.longerThanDeclared }
                data.withUnsafeBytes { chunk in
                    guard let base = chunk.baseAddress else { return }
                    (buffer.baseAddress! + written).copyMemory(from: base, byteCount: chunk.count)
                    if checksum { crc = crc32(crc, base.assumingMemoryBound(to: Bytef.self), uInt(chunk.count)) }
                }
                written += data.count
            }
        } catch {
            throw .damaged(path: path, reason: "cannot read \(entry.path): \(error); the file is truncated or damaged")
        }
        guard written == buffer.count else {
            throw .damaged(
                path: path, reason: "entry \(entry.path) ends after \(written) of its \(buffer.count) bytes; the file is truncated")
        }
        guard !checksum || UInt32(truncatingIfNeeded: crc) == entry.checksum else {
            throw .damaged(path: path, reason: "entry \(entry.path) fails its CRC-32 check; the file is damaged")
        }
    }

    private func check(_ entry: Entry) throws(CheckpointError) {
        guard !entry.isCompressed else {
            throw .damaged(path: path, reason: "entry \(entry.path) is compressed; torch.save stores entries uncompressed")
        }
        guard entry.uncompressedSize <= fileSize else {
            throw .damaged(path: path, reason: "entry \(entry.path) claims \(entry.uncompressedSize) bytes, more than the file holds")
        }
    }

    enum ZipReadError: Error { case longerThanDeclared }
}

/// CRC-32 checks of tensors already read, run on one background queue (the second core) while
/// the next entries are read.
private final class ParallelChecksums: @unchecked Sendable {
    private let queue = DispatchQueue(label: "zoo.zip-crc", qos: .userInitiated)
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var failures: [String] = []

    func verify(_ storage: TensorStorage, expected: UInt32, entry: String) {
        queue.async(group: group) {
            let crc = storage.withUnsafeBytes { bytes -> UInt32 in
                guard let base = bytes.baseAddress else { return 0 }
                var crc = crc32(0, nil, 0)
                var offset = 0
                while offset < bytes.count {  // crc32 takes 32-bit lengths.
                    let length = min(bytes.count - offset, 1 << 30)
                    crc = crc32(crc, (base + offset).assumingMemoryBound(to: Bytef.self), uInt(length))
                    offset += length
                }
                return UInt32(truncatingIfNeeded: crc)
            }
            if crc != expected {
                self.lock.lock()
                self.failures.append(entry)
                self.lock.unlock()
            }
        }
    }

    /// Waits for every check; the entries that failed, in no particular order.
    func waitForFailures() -> [String] {
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        return failures
    }
}
