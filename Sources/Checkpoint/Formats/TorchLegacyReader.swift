import Foundation
import Tensor

/// `torch.save` before PyTorch 1.6 (and with `_use_new_zipfile_serialization=False`): one
/// stream of the magic number, the protocol version and the system information (three small
/// pickles), the pickled object, the pickled list of storage keys, then each storage as its
/// element count (8 bytes) and its bytes.
enum TorchLegacyReader: CheckpointContainerReader {
    static let container = CheckpointContainer.torchLegacy
    /// 0x1950a86a20f9469cfc6c, little-endian, as `LONG1` writes it.
    static let magicNumber: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    static let protocolVersion = 1001

    static func read(_ path: String) throws(CheckpointError) -> RawCheckpoint {
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)) } catch {
            throw .damaged(path: path, reason: "cannot read the file: \(error)")
        }
        do {
            var unpickler = Unpickler(bytes)
            guard case .bigInt(let magic) = try unpickler.load(), magic == magicNumber else {
                throw PickleError.damaged("the stream does not start with torch's magic number")
            }
            guard try unpickler.load().intValue == protocolVersion else {
                throw PickleError.damaged("the stream's protocol version is not \(protocolVersion)")
            }
            guard case .dict(let systemInfo) = try unpickler.load() else {
                throw PickleError.damaged("the system information is not a dict")
            }
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
            let (references, notes) = try TorchStateDict.tensors(in: object)
            guard let keys = try unpickler.load().tupleValue?.compactMap(\.stringValue) else {
                throw PickleError.damaged("the list of storage keys is missing")
            }
            var position = unpickler.position
            var storages: [String: [UInt8]] = [:]
            for key in keys {
                guard let type = storageTypes[key] else { throw PickleError.damaged("storage '\(key)' is listed but never used") }
                guard bytes.count - position >= 8 else { throw PickleError.damaged("the stream is truncated before storage '\(key)'") }
                var countBytes = Array(bytes[position..<(position + 8)])
                if bigEndian { countBytes.reverse() }
                let count = countBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                position += 8
                let width = type.dtype.byteCount
                guard count <= UInt64(bytes.count - position) / UInt64(width) else {
                    throw PickleError.damaged("the stream is truncated inside storage '\(key)' (\(count) elements declared)")
                }
                var data = Array(bytes[position..<(position + Int(count) * width)])
                position += Int(count) * width
                if bigEndian { swapByteOrder(&data, elementWidth: width) }
                storages[key] = data
            }
            var entries: [(String, Tensor)] = []
            for (key, reference) in references {
                guard let data = storages[reference.storage.key] else {
                    throw PickleError.damaged("tensor '\(key)' uses storage '\(reference.storage.key)', which the stream lacks")
                }
                do { entries.append((key, try TorchStateDict.materialise(reference, storageBytes: data))) } catch {
                    throw PickleError.damaged("tensor '\(key)': \(error)")
                }
            }
            var raw = RawCheckpoint(container: container, entries: entries, manifest: nil, notes: notes)
            raw.pickleGlobals = globals
            if bigEndian { raw.notes.append("converted big-endian storages to this machine's byte order") }
            return raw
        } catch let error as PickleError {
            throw CheckpointError(error, path: path)
        } catch {
            throw .damaged(path: path, reason: "\(error)")
        }
    }
}
