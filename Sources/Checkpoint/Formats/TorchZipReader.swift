internal import CDeflateChecksum
import Foundation
import Synchronization
import Tensor
// ZIPFoundation predates Swift concurrency: its Archive (a FILE* underneath) and Entry carry no
// Sendable marks. Worker threads read entries by their ZipRecord with pread, never through it.
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

    static func read(_ path: String, sink: TensorSink) throws(CheckpointError) -> RawCheckpoint {
        let entries = try ZipEntries(checkedArchiveAt: path)
        let archive = entries.archive
        guard let pickleEntry = archive.first(where: { $0.path.hasSuffix("data.pkl") && $0.type == .file }),
            let pickleRecord = entries.records[pickleEntry.path]
        else {
            throw .damaged(path: path, reason: "the zip archive holds no data.pkl, so it is not a torch.save file")
        }
        let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
        var pickle = try entries.bytes(of: pickleRecord)
        var bigEndian = false
        if let entry = entries.records[prefix + "byteorder"] {
            let order = String(decoding: try entries.bytes(of: entry), as: UTF8.self)
            guard order == "little" || order == "big" else { throw .damaged(path: path, reason: "byteorder is '\(order)'") }
            bigEndian = order == "big"
        }  // Files from before PyTorch wrote the byte order are little-endian.
        // The pickle's bytes, its tree of values and the unpickler's memo go before any tensor is
        // read: for 20,000 small tensors they were 15 MB beside the tensors' 20.
        let unpickled = try unpickle(pickle, detaching: sink.keepsTensors, path: path)
        let parsed = pickle.count
        pickle = []
        FreedMemory.release(afterParsing: parsed)
        return try readTensors(unpickled, entries: entries, prefix: prefix, bigEndian: bigEndian, sink: sink, path: path)
    }

    /// The tensors the pickle describes (where each one's storage is), how they were found, and
    /// the globals the pickle named.
    private struct Unpickled {
        var references: [(String, TensorReference)]
        var notes: [String]
        var globals: [String]
    }

    private static func unpickle(_ pickle: [UInt8], detaching: Bool, path: String) throws(CheckpointError) -> Unpickled {
        do {
            return try pickle.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws -> Unpickled in
                var unpickler = Unpickler(bytes)
                unpickler.persistentLoad = { id throws(PickleError) in .storage(try TorchStateDict.storage(fromPersistentID: id)) }
                let (references, notes) = try TorchStateDict.tensors(in: try unpickler.load(), detaching: detaching)
                return Unpickled(references: references, notes: notes, globals: unpickler.globals)
            }
        } catch let error as PickleError {
            throw CheckpointError(error, path: path)
        } catch {
            throw .damaged(path: path, reason: "\(error)")
        }
    }

    private static func readTensors(
        _ unpickled: Unpickled, entries: ZipEntries, prefix: String, bigEndian: Bool, sink: TensorSink, path: String
    ) throws(CheckpointError) -> RawCheckpoint {
        do {
            let (references, notes) = (unpickled.references, unpickled.notes)
            var users: [String: Int] = [:]
            for (_, reference) in references { users[reference.storage.key, default: 0] += 1 }
            let byPath = entries.records
            // First the plan: which tensors are a whole storage of their own (read straight into
            // the tensor, several at once), which share or view one (read after, from a buffer).
            // By index into `references`, the entries found again by path.
            var direct: [Int] = []
            var viaBuffer: [Int] = []
            let storageEntry: @Sendable (TensorReference) -> ZipRecord? = { byPath[prefix + "data/" + $0.storage.key] }
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
                direct, of: references, entry: storageEntry, sink: sink, path: path, fallback: entries)
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
                    let tensor = try bytes.withUnsafeBytes { try TorchStateDict.materialise(reference, storageBytes: $0) }
                    tensors[index] = sink.take(tensor, key: key)
                } catch {
                    throw PickleError.damaged("tensor '\(key)': \(error)")
                }
                users[storage.key, default: 1] -= 1
                if users[storage.key] == 0 { shared[storage.key] = nil }  // Its last tensor is out.
            }
            let entriesRead = zip(references, tensors).compactMap { pair in pair.1.map { (pair.0.0, $0) } }
            var raw = RawCheckpoint(container: container, entries: entriesRead, manifest: nil, notes: notes)
            raw.pickleGlobals = unpickled.globals
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
    /// cores (at most 4), all through the one descriptor (`pread` keeps no shared position).
    fileprivate static func readInParallel(
        _ work: [Int], of references: [(String, TensorReference)], entry: @escaping @Sendable (TensorReference) -> ZipRecord?,
        sink: TensorSink,
        path: String, fallback readers: ZipEntries
    ) throws(PickleError) -> [(Int, Tensor)] {
        // Small tensors are read on the calling thread: worker threads allocate in arenas of their
        // own, where the tensors cannot reuse the memory the pickle's tree left in this thread's
        // (20,000 tensors of 1 KiB: 15 MB more at the peak), and reading 1 KiB takes less than
        // handing it to a thread.
        let bytes = work.reduce(0) { total, index in
            let reference = references[index].1
            return total + reference.storage.elementCount * reference.storage.dtype.dtype.byteCount
        }
        let parallel = work.count > 1 && bytes / work.count >= Self.parallelTensorBytes
        let workers = parallel ? max(1, min(4, ProcessInfo.processInfo.activeProcessorCount, work.count)) : 1
        let gathered = Mutex(Gathered())
        let read: @Sendable (Int) -> Void = { worker in
            for item in stride(from: worker, to: work.count, by: workers) where gathered.withLock({ $0.failure == nil }) {
                let index = work[item]
                let (key, reference) = references[index]
                do {
                    // The plan found every storage's entry; a missing one would be a bug here.
                    guard let entry = entry(reference) else { throw PickleError.damaged("no entry for storage \(reference.storage.key)") }
                    let tensor = try Tensor(shape: reference.shape, dtype: reference.storage.dtype.dtype) { buffer in
                        try readers.read(entry, into: buffer)
                    }
                    let kept = sink.take(tensor, key: key)
                    gathered.withLock { $0.tensors.append((index, kept)) }
                } catch {
                    gathered.withLock { if $0.failure == nil { $0.failure = "\(error)" } }
                }
            }
        }
        if workers > 1 { DispatchQueue.concurrentPerform(iterations: workers, execute: read) } else { read(0) }
        let (tensors, failure) = gathered.withLock { ($0.tensors, $0.failure) }
        if let failure { throw .damaged(failure) }
        return tensors
    }

    /// Tensors at least this large on average are read on several threads at once.
    static let parallelTensorBytes = 64 << 10

    /// The archive at `path`, read-only, through ZIPFoundation's throwing initialiser.
    static func openArchive(_ path: String) throws -> Archive {
        try Archive(url: URL(fileURLWithPath: path), accessMode: .read, pathEncoding: nil)
    }
}

/// Reads zip entries whole, checking each one's CRC-32 with zlib. ZIPFoundation's archive
/// finds entries by name and kind; their bytes are read here, by the directory's own records
/// (``ZipRecord``), with `pread` from the file (several threads at once on one descriptor) or
/// copied from the bytes of a zip held in memory.
struct ZipEntries {
    let archive: Archive
    let fileSize: UInt64
    let path: String
    /// Every entry by its path, the first of duplicates.
    private(set) var records: [String: ZipRecord]
    private let source: Source

    private enum Source {
        case file(ReadDescriptor)
        case memory([UInt8])
    }

    /// A zip held in memory (one inside another).
    init(archive: Archive, bytes: [UInt8], path: String) {
        (self.archive, fileSize, self.path) = (archive, UInt64(bytes.count), path)
        records = bytes.withUnsafeBytes { ZipDirectoryBounds.records(in: $0) }
        source = .memory(bytes)
    }

    /// The zip at `path`, its directory checked before ZIPFoundation reads it (ZIPFoundation traps
    /// on some impossible ZIP64 numbers): the way every zip container opens its file.
    init(checkedArchiveAt path: String) throws(CheckpointError) {
        let checked: (problem: String?, records: [String: ZipRecord])
        do {
            let file = try MappedFile(path: path)
            checked = file.withBytes { bytes in
                let problem = ZipDirectoryBounds.problem(in: bytes, releasing: file.release)
                return (problem, problem == nil ? ZipDirectoryBounds.records(in: bytes) : [:])
            }
        } catch {
            throw .damaged(path: path, reason: "cannot be read (\(error))")
        }
        if let problem = checked.problem { throw .damaged(path: path, reason: "the zip archive's directory is damaged: \(problem)") }
        let archive: Archive
        do { archive = try TorchZipReader.openArchive(path) } catch {
            throw .damaged(path: path, reason: "not a readable zip archive (\(error)); the file may be truncated")
        }
        let descriptor = ReadDescriptor(path: path)
        guard let descriptor else { throw .damaged(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))") }
        (self.archive, self.path, records, source) = (archive, path, checked.records, .file(descriptor))
        fileSize = descriptor.size
    }

    /// Every entry by its path, the first of duplicates.
    func byPath() -> [String: ZipRecord] { records }

    /// Lets the index by path go (20,000 entries: 4 MB), for a reader that has looked up every
    /// entry it reads; entries are still read by their records.
    mutating func forgetPaths() { records = [:] }

    /// An entry's bytes. Its declared size is bounded by the file's (torch stores entries
    /// uncompressed), so a damaged size cannot make it allocate more.
    func bytes(of entry: ZipRecord) throws(CheckpointError) -> [UInt8] {
        try check(entry)
        var bytes = [UInt8](repeating: 0, count: Int(entry.uncompressedSize))
        var failure: CheckpointError?
        bytes.withUnsafeMutableBytes { buffer in
            do throws(CheckpointError) { try read(entry, into: buffer) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    /// An entry's bytes as text (UTF-8, ill-formed sequences replaced as `String(decoding:as:)`
    /// replaces them), read straight into the string's own storage: the program and weights
    /// config of a `.pt2` are megabytes each, and a copy of each beside it left a hole of its
    /// size in the heap.
    func text(of entry: ZipRecord) throws(CheckpointError) -> String {
        try check(entry)
        var failure: CheckpointError?
        let size = Int(entry.uncompressedSize)
        // The buffer may be larger than asked for (a short string's is its inline room).
        let text = String(unsafeUninitializedCapacity: size) { buffer in
            let room = UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[..<size]))
            do throws(CheckpointError) { try read(entry, into: room) } catch {
                failure = error
                return 0
            }
            return size
        }
        if let failure { throw failure }
        return text
    }

    /// Reads an entry into `buffer`, which must be exactly its size, checking its CRC-32.
    func read(_ entry: ZipRecord, into buffer: UnsafeMutableRawBufferPointer) throws(CheckpointError) {
        try check(entry)
        guard UInt64(buffer.count) == entry.uncompressedSize else {
            throw .damaged(path: path, reason: "entry \(entry.path) holds \(entry.uncompressedSize) bytes, not \(buffer.count)")
        }
        var header = [UInt8](repeating: 0, count: 30)
        let headerRead = header.withUnsafeMutableBytes { copy(from: entry.localHeader, into: $0) }
        guard headerRead == 30, header[0] == 0x50, header[1] == 0x4B, header[2] == 0x03, header[3] == 0x04 else {
            throw .damaged(path: path, reason: "cannot read \(entry.path): its local header is damaged; the file is truncated or damaged")
        }
        let skipped = 30 + (Int(header[26]) | Int(header[27]) << 8) + (Int(header[28]) | Int(header[29]) << 8)
        // A piece at a time, each checked while it is still in the core's cache: reading all of a
        // 64 MiB entry and then checking it read its bytes from memory twice.
        var crc: UInt32 = 0
        var done = 0
        while done < buffer.count {
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<min(buffer.count, done + Self.checkedPieceBytes)])
            let written = copy(from: entry.localHeader + UInt64(skipped + done), into: piece)
            guard written == piece.count else {
                throw .damaged(
                    path: path,
                    reason: "entry \(entry.path) ends after \(done + max(written, 0)) of its \(buffer.count) bytes; the file is truncated")
            }
            crc = libdeflate_crc32(crc, piece.baseAddress, piece.count)
            done += piece.count
        }
        guard crc == entry.checksum else {
            throw .damaged(path: path, reason: "entry \(entry.path) fails its CRC-32 check; the file is damaged")
        }
    }

    /// How much of an entry is read and checked at a time: half a core's L2 cache here.
    static let checkedPieceBytes = 512 << 10

    /// Copies from `offset` of the zip into `buffer`, as much as there is: the count copied.
    private func copy(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard offset < fileSize else { return 0 }
        switch source {
        case .memory(let bytes):
            let count = min(buffer.count, bytes.count - Int(offset))
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: count) }
            return count
        case .file(let descriptor): return descriptor.read(at: offset, into: buffer)
        }
    }

    private func check(_ entry: ZipRecord) throws(CheckpointError) {
        guard !entry.isCompressed else {
            throw .damaged(path: path, reason: "entry \(entry.path) is compressed; torch.save stores entries uncompressed")
        }
        guard entry.uncompressedSize <= fileSize else {
            throw .damaged(path: path, reason: "entry \(entry.path) claims \(entry.uncompressedSize) bytes, more than the file holds")
        }
    }
}

/// A file open for reading at any offset, from any thread (`pread`); closed on deinit.
final class ReadDescriptor: Sendable {
    private let descriptor: Int32
    let size: UInt64

    init?(path: String) {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            close(descriptor)
            return nil
        }
        size = UInt64(status.st_size)
    }

    deinit { close(descriptor) }

    /// Reads from `offset` until `buffer` is full or the file ends: the count read.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        FileReads.read(descriptor, at: Int(offset), into: buffer).count
    }
}
