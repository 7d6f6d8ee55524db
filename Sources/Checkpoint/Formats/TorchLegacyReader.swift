import Foundation
import Tensor

/// `torch.save` before PyTorch 1.6 (and with `_use_new_zipfile_serialization=False`): one
/// stream of the magic number, the protocol version and the system information (three small
/// pickles), the pickled object, the pickled list of storage keys, then each storage as its
/// element count (8 bytes) and its bytes. Read through a memory map: each tensor is copied once,
/// straight out of the page cache.
enum TorchLegacyReader: CheckpointContainerReader {
    static let container = CheckpointContainer.torchLegacy
    /// 0x1950a86a20f9469cfc6c, little-endian, as `LONG1` writes it.
    static let magicNumber: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    static let protocolVersion = 1001

    static func read(_ path: String, sink: TensorSink) throws(CheckpointError) -> RawCheckpoint {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw .damaged(path: path, reason: "\(error)") }
        do {
            return try file.withBytes { bytes throws(PickleError) in try read(bytes, file: file, sink: sink) }
        } catch {
            throw CheckpointError(error, path: path)
        }
    }

    /// What the pickles ahead of the storages say: the tensors and where their storages are.
    private struct Pickled {
        var references: [(String, TensorReference)]
        var notes: [String]
        var globals: [String]
        var bigEndian: Bool
        var storageTypes: [String: TorchStorageType]
        var keys: [String]
        /// Where the storages start.
        var position: Int
    }

    /// Reads the pickles; their tree of values and the unpickler's memo (which holds every value
    /// of the tree) go when it returns, before any tensor is read: for 20,000 small tensors they
    /// were 12 MB, held beside the tensors.
    private static func unpickle(_ bytes: UnsafeRawBufferPointer, detaching: Bool) throws(PickleError) -> Pickled {
        var unpickler = Unpickler(bytes)
        guard case .bigInt(let magic) = try unpickler.load(), magic == magicNumber else {
            throw .damaged("the stream does not start with torch's magic number")
        }
        guard try unpickler.load().intValue == protocolVersion else {
            throw .damaged("the stream's protocol version is not \(protocolVersion)")
        }
        guard case .dict(let systemInfo) = try unpickler.load() else { throw .damaged("the system information is not a dict") }
        var bigEndian = false
        if case .bool(let little)? = systemInfo["little_endian"] { bigEndian = !little }

        var storageTypes: [String: TorchStorageType] = [:]
        unpickler.persistentLoad = { id throws(PickleError) in
            let storage = try TorchStateDict.storage(fromPersistentID: id)
            storageTypes[storage.key] = storage.dtype
            return .storage(storage)
        }
        let object = try unpickler.load()
        let globals = unpickler.globals
        let (references, notes) = try TorchStateDict.tensors(in: object, detaching: detaching)
        guard let keys = try unpickler.load().tupleValue?.compactMap(\.stringValue) else {
            throw .damaged("the list of storage keys is missing")
        }
        return Pickled(
            references: references, notes: notes, globals: globals, bigEndian: bigEndian, storageTypes: storageTypes, keys: keys,
            position: unpickler.position)
    }

    private static func read(_ bytes: UnsafeRawBufferPointer, file: MappedFile, sink: TensorSink) throws(PickleError) -> RawCheckpoint {
        let pickled = try unpickle(bytes, detaching: sink.keepsTensors)
        FreedMemory.release(afterParsing: pickled.position)
        let (references, notes, globals, bigEndian) = (pickled.references, pickled.notes, pickled.globals, pickled.bigEndian)
        let (storageTypes, keys) = (pickled.storageTypes, pickled.keys)
        // Where each storage's bytes are: after its 8-byte element count, one after the other.
        var position = pickled.position
        var storages: [String: Range<Int>] = [:]
        storages.reserveCapacity(keys.count)
        // Each count sits just before its storage's bytes, so with many small storages this walk
        // touches every page of the file: the pages behind it go as it moves on, or the whole
        // file stays resident while the tensors are read (22 MiB for 20,000 tensors of 1 KiB).
        var releasedUpTo = position
        for key in keys {
            if position - releasedUpTo >= MappedFile.piece {
                file.release(releasedUpTo..<position)
                releasedUpTo = position
            }
            guard let type = storageTypes[key] else { throw .damaged("storage '\(key)' is listed but never used") }
            guard bytes.count - position >= 8 else { throw .damaged("the stream is truncated before storage '\(key)'") }
            var count: UInt64 = 0
            for index in 0..<8 {
                let byte = UInt64(bytes[position + (bigEndian ? 7 - index : index)])
                count |= byte << (8 * UInt64(index))
            }
            position += 8
            let width = type.dtype.byteCount
            guard count <= UInt64(bytes.count - position) / UInt64(width) else {
                throw .damaged("the stream is truncated inside storage '\(key)' (\(count) elements declared)")
            }
            storages[key] = position..<(position + Int(count) * width)
            position += Int(count) * width
        }
        var users: [String: Int] = [:]
        for (_, reference) in references { users[reference.storage.key, default: 0] += 1 }
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(references.count)
        for (key, reference) in references {
            guard let range = storages[reference.storage.key] else {
                throw .damaged("tensor '\(key)' uses storage '\(reference.storage.key)', which the stream lacks")
            }
            ranges.append(range)
        }
        // In the file's order, not the state_dict's: torch writes the storages sorted by key as
        // text ("0", "1", "10", "100", ...), and reading them in state_dict order jumped back and
        // forth, leaving the pieces mapped ahead of each jump resident (up to 12 MB of a file of
        // 20,000 small tensors).
        let order = references.indices.sorted { (ranges[$0].lowerBound, $0) < (ranges[$1].lowerBound, $1) }
        var tensors = [Tensor?](repeating: nil, count: references.count)
        for index in order {
            let (key, reference) = references[index]
            let range = ranges[index]
            let storageBytes = UnsafeRawBufferPointer(rebasing: bytes[range])
            var swapped: [UInt8] = []
            if bigEndian {
                swapped = Array(storageBytes)
                swapByteOrder(&swapped, elementWidth: reference.storage.dtype.dtype.byteCount)
            }
            do {
                let tensor = try swapped.withUnsafeBytes { swappedBytes in
                    if bigEndian { return try TorchStateDict.materialise(reference, storageBytes: swappedBytes) }
                    return try TorchStateDict.materialise(reference, storageBytes: storageBytes) { within, buffer in
                        try file.copy((range.lowerBound + within.lowerBound)..<(range.lowerBound + within.upperBound), into: buffer)
                    }
                }
                tensors[index] = sink.take(tensor, key: key)
            } catch {
                throw .damaged("tensor '\(key)': \(error)")
            }
            // Once a storage's last tensor is out, its pages leave resident memory.
            users[reference.storage.key, default: 1] -= 1
            if users[reference.storage.key] == 0 { file.release(range) }
        }
        let entries = zip(references, tensors).compactMap { pair in pair.1.map { (pair.0.0, $0) } }
        var raw = RawCheckpoint(container: container, entries: entries, manifest: nil, notes: notes)
        raw.pickleGlobals = globals
        if bigEndian { raw.notes.append("converted big-endian storages to this machine's byte order") }
        return raw
    }
}
