internal import CZlibChecksum
import Foundation
import Synchronization
import Tensor
// ZIPFoundation predates Swift concurrency: its Archive (a FILE* underneath) and Entry carry no
// Sendable marks. Each worker thread reads through an Archive of its own, the first one excepted.
@preconcurrency import ZIPFoundation

/// `torch.save` files since PyTorch 1.6: a zip archive (read with ZIPFoundation) holding
/// `<archive>/data.pkl`, one entry per storage under `<archive>/data/`, `<archive>/byteorder`
/// and `<archive>/version`.
///
/// A storage that one tensor uses whole (the common case: each parameter its own storage) is
/// read straight into that tensor's memory, on every core at once; shared storages and views are
/// read once into a buffer that lives only until its tensors are copied out. Every entry's CRC-32
/// is checked.
enum TorchZipReader: CheckpointContainerReader {
    static let container = CheckpointContainer.torchZip

    static func read(_ path: String) throws(CheckpointError) -> RawCheckpoint {
        let entries = try ZipEntries(checkedArchiveAt: path)
        let archive = entries.archive
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
            var users: [String: Int] = [:]
            for (_, reference) in references { users[reference.storage.key, default: 0] += 1 }
            let byPath = entries.byPath()
            // First the plan: which tensors are a whole storage of their own (read straight into
            // the tensor, several at once), which share or view one (read after, from a buffer).
            // By index into `references`, the entries found again by path: ZIPFoundation's entries
            // are 576 bytes each, and copies of them in these lists were 11.5 MB for 20,000 tensors.
            var direct: [Int] = []
            var viaBuffer: [Int] = []
            let storageEntry: @Sendable (TensorReference) -> Entry? = { byPath[prefix + "data/" + $0.storage.key] }
            for (index, (key, reference)) in references.enumerated() {
                let storage = reference.storage
                guard let entry = byPath[prefix + "data/" + storage.key] else {
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
                    direct.append(index)
                } else {
                    viaBuffer.append(index)
                }
            }
            var tensors = [Tensor?](repeating: nil, count: references.count)
            for (index, tensor) in try readInParallel(
                direct, of: references.map(\.1), entry: storageEntry, path: path, fallback: entries)
            {
                tensors[index] = tensor
            }
            var shared: [String: [UInt8]] = [:]
            for index in viaBuffer {
                let (key, reference) = references[index]
                guard let entry = storageEntry(reference) else {
                    throw PickleError.damaged("no entry for storage \(reference.storage.key)")
                }
                let storage = reference.storage
                if shared[storage.key] == nil {
                    var bytes: [UInt8]
                    do { bytes = try entries.bytes(of: entry) } catch { throw PickleError.damaged("\(error)") }
                    if bigEndian { swapByteOrder(&bytes, elementWidth: storage.dtype.dtype.byteCount) }
                    shared[storage.key] = bytes
                }
                do {
                    let bytes = shared[storage.key] ?? []
                    tensors[index] = try bytes.withUnsafeBytes { try TorchStateDict.materialise(reference, storageBytes: $0) }
                } catch {
                    throw PickleError.damaged("tensor '\(key)': \(error)")
                }
                users[storage.key, default: 1] -= 1
                if users[storage.key] == 0 { shared[storage.key] = nil }  // Its last tensor is out.
            }
            let entriesRead = zip(references, tensors).compactMap { pair in pair.1.map { (pair.0.0, $0) } }
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

extension TorchZipReader {
    /// Tensors read so far by the workers, and the first failure, when one happened.
    private struct Gathered: Sendable {
        var tensors: [(Int, Tensor)] = []
        var failure: String?
    }

    /// Reads whole-storage tensors straight into their memory, on as many threads as there are
    /// cores (at most 4), each with its own handle on the archive.
    fileprivate static func readInParallel(
        _ work: [Int], of references: [TensorReference], entry: @Sendable (TensorReference) -> Entry?, path: String, fallback: ZipEntries
    ) throws(PickleError) -> [(Int, Tensor)] {
        let workers = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount, work.count))
        let gathered = Mutex(Gathered())
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var readers = fallback
            if worker > 0 {
                do { readers = ZipEntries(archive: try openArchive(path), fileSize: fallback.fileSize, path: path) } catch {
                    gathered.withLock { if $0.failure == nil { $0.failure = "cannot open the archive a second time" } }
                    return
                }
            }
            for item in stride(from: worker, to: work.count, by: workers) where gathered.withLock({ $0.failure == nil }) {
                let index = work[item]
                let reference = references[index]
                do {
                    // The plan found every storage's entry; a missing one would be a bug here.
                    guard let entry = entry(reference) else { throw PickleError.damaged("no entry for storage \(reference.storage.key)") }
                    let tensor = try Tensor(shape: reference.shape, dtype: reference.storage.dtype.dtype) { buffer in
                        try readers.read(entry, into: buffer)
                    }
                    gathered.withLock { $0.tensors.append((index, tensor)) }
                } catch {
                    gathered.withLock { if $0.failure == nil { $0.failure = "\(error)" } }
                }
            }
        }
        let (tensors, failure) = gathered.withLock { ($0.tensors, $0.failure) }
        if let failure { throw .damaged(failure) }
        return tensors
    }

    /// The archive at `path`, read-only, through ZIPFoundation's throwing initialiser.
    static func openArchive(_ path: String) throws -> Archive {
        try Archive(url: URL(fileURLWithPath: path), accessMode: .read, pathEncoding: nil)
    }
}

/// Reads zip entries whole, checking each one's CRC-32 with zlib.
struct ZipEntries {
    let archive: Archive
    let fileSize: UInt64
    let path: String

    init(archive: Archive, fileSize: UInt64, path: String) {
        (self.archive, self.fileSize, self.path) = (archive, fileSize, path)
    }

    /// The zip at `path`, its directory checked before ZIPFoundation reads it (ZIPFoundation traps
    /// on some impossible ZIP64 numbers): the way every zip container opens its file.
    init(checkedArchiveAt path: String) throws(CheckpointError) {
        let directoryProblem: String?
        do { directoryProblem = try MappedFile(path: path).withBytes { ZipDirectoryBounds.problem(in: $0) } } catch {
            throw .damaged(path: path, reason: "cannot be read (\(error))")
        }
        if let directoryProblem { throw .damaged(path: path, reason: "the zip archive's directory is damaged: \(directoryProblem)") }
        let archive: Archive
        do { archive = try TorchZipReader.openArchive(path) } catch {
            throw .damaged(path: path, reason: "not a readable zip archive (\(error)); the file may be truncated")
        }
        let fileSize = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
        self.init(archive: archive, fileSize: fileSize, path: path)
    }

    /// Every entry by its path, the first of duplicates, in one pass over the directory:
    /// ZIPFoundation's subscript walks it from the start for every name (a read per entry), which
    /// for a hundred storages was a third of a load.
    func byPath() -> [String: Entry] {
        var byPath: [String: Entry] = [:]
        for entry in archive where byPath[entry.path] == nil { byPath[entry.path] = entry }
        return byPath
    }

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

    /// Streams an entry into `buffer`, which must be exactly its size, checking its CRC-32.
    func read(_ entry: Entry, into buffer: UnsafeMutableRawBufferPointer) throws(CheckpointError) {
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
                    crc = crc32(crc, base.assumingMemoryBound(to: Bytef.self), uInt(chunk.count))
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
        guard UInt32(truncatingIfNeeded: crc) == entry.checksum else {
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
