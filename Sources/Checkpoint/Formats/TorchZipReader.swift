import Foundation
import Tensor
import ZIPFoundation

/// `torch.save` files since PyTorch 1.6: a zip archive (read with ZIPFoundation) holding
/// `<archive>/data.pkl`, one entry per storage under `<archive>/data/`, `<archive>/byteorder`
/// and `<archive>/version`.
enum TorchZipReader: CheckpointContainerReader {
    static let container = CheckpointContainer.torchZip

    static func read(_ path: String) throws(CheckpointError) -> RawCheckpoint {
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw .damaged(path: path, reason: "not a readable zip archive (\(error)); the file may be truncated")
        }
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? 0
        guard let pickleEntry = archive.first(where: { $0.path.hasSuffix("data.pkl") && $0.type == .file }) else {
            throw .damaged(path: path, reason: "the zip archive holds no data.pkl, so it is not a torch.save file")
        }
        let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
        let pickle = try contents(of: pickleEntry, in: archive, fileSize: fileSize, path: path)
        let bigEndian: Bool
        if let entry = archive[prefix + "byteorder"] {
            let order = String(decoding: try contents(of: entry, in: archive, fileSize: fileSize, path: path), as: UTF8.self)
            guard order == "little" || order == "big" else { throw .damaged(path: path, reason: "byteorder is '\(order)'") }
            bigEndian = order == "big"
        } else {
            bigEndian = false  // Files from before PyTorch wrote the byte order are little-endian.
        }

        var unpickler = Unpickler(pickle)
        unpickler.persistentLoad = { id throws(PickleError) in .storage(try TorchStateDict.storage(fromPersistentID: id)) }
        var storages: [String: [UInt8]] = [:]
        do {
            let object = try unpickler.load()
            let (references, notes) = try TorchStateDict.tensors(in: object)
            var entries: [(String, Tensor)] = []
            entries.reserveCapacity(references.count)
            for (key, reference) in references {
                let storageKey = reference.storage.key
                if storages[storageKey] == nil {
                    guard let entry = archive[prefix + "data/" + storageKey] else {
                        throw PickleError.damaged("the archive lacks storage '\(storageKey)' that tensor '\(key)' uses")
                    }
                    var bytes: [UInt8]
                    do { bytes = try contents(of: entry, in: archive, fileSize: fileSize, path: path) } catch {
                        throw PickleError.damaged("\(error)")
                    }
                    let width = reference.storage.dtype.dtype.byteCount
                    guard bytes.count >= reference.storage.elementCount * width else {
                        throw PickleError.damaged(
                            "storage '\(storageKey)' holds \(bytes.count) bytes, shorter than its \(reference.storage.elementCount) "
                                + "\(reference.storage.dtype.dtype) elements; the file is damaged")
                    }
                    if bigEndian { swapByteOrder(&bytes, elementWidth: width) }
                    storages[storageKey] = bytes
                }
                do {
                    entries.append((key, try TorchStateDict.materialise(reference, storageBytes: storages[storageKey] ?? [])))
                } catch {
                    throw PickleError.damaged("tensor '\(key)': \(error)")
                }
            }
            var raw = RawCheckpoint(container: container, entries: entries, manifest: nil, notes: notes)
            raw.pickleGlobals = unpickler.globals
            if bigEndian { raw.notes.append("converted big-endian storages to this machine's byte order") }
            return raw
        } catch let error as PickleError {
            throw CheckpointError(error, path: path)
        } catch {
            throw .damaged(path: path, reason: "\(error)")
        }
    }

    /// An entry's bytes, CRC-checked by ZIPFoundation; its declared size is bounded by the file's
    /// (torch stores entries uncompressed), so a damaged size cannot make it allocate more.
    private static func contents(of entry: Entry, in archive: Archive, fileSize: UInt64, path: String) throws(CheckpointError) -> [UInt8] {
        guard !entry.isCompressed else {
            throw .damaged(path: path, reason: "entry \(entry.path) is compressed; torch.save stores entries uncompressed")
        }
        guard entry.uncompressedSize <= fileSize else {
            throw .damaged(path: path, reason: "entry \(entry.path) claims \(entry.uncompressedSize) bytes, more than the file holds")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(entry.uncompressedSize))
        do {
            _ = try archive.extract(entry, bufferSize: 1 << 20) { data in bytes.append(contentsOf: data) }
        } catch {
            throw .damaged(path: path, reason: "cannot read \(entry.path): \(error); the file is truncated or damaged")
        }
        return bytes
    }
}
