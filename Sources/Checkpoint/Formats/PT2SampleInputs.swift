import Foundation
import Tensor
@preconcurrency import ZIPFoundation

/// The `data/sample_inputs/model.pt` of a PT2 archive: `torch.save(((x,), {}))`, the positional
/// and keyword example inputs, which `torch.export.load` requires to be present.
///
/// zoo writes it as torch.save's zip format with a protocol-2 pickle made of the few opcodes a
/// tensor needs, calling only what PyTorch's weights-only unpickler allows
/// (`torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`, `collections.OrderedDict`).
enum PT2SampleInputs {
    static func torchSave(_ input: Tensor) throws -> Data {
        let float = input.converted(to: .float32)
        var pickle: [UInt8] = [0x80, 2]
        pickle += global("torch._utils", "_rebuild_tensor_v2")
        pickle += [UInt8(ascii: "("), UInt8(ascii: "(")]
        pickle += unicode("storage") + global("torch", "FloatStorage") + unicode("0") + unicode("cpu") + integer(float.count)
        pickle += [UInt8(ascii: "t"), UInt8(ascii: "Q")]
        pickle += integer(0)
        pickle += tuple(float.shape.map(integer))
        var strides: [Int] = []
        var step = 1
        for size in float.shape.reversed() {
            strides.insert(step, at: 0)
            step *= Swift.max(size, 1)
        }
        pickle += tuple(strides.map(integer))
        pickle += [0x89]  // requires_grad False
        pickle += global("collections", "OrderedDict") + [UInt8(ascii: ")"), UInt8(ascii: "R")]
        pickle += [UInt8(ascii: "t"), UInt8(ascii: "R")]
        // ((x,), {})
        pickle += [0x85, UInt8(ascii: "}"), 0x86, UInt8(ascii: ".")]

        let archive = try Archive(data: Data(), accessMode: .create)
        let members: [(String, Data)] = [
            ("model/data.pkl", Data(pickle)), ("model/byteorder", Data("little".utf8)),
            ("model/data/0", Data(float.littleEndianBytes)), ("model/version", Data("3\n".utf8)),
        ]
        for (name, data) in members {
            try archive.addEntry(
                with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .none,
                provider: { position, size in data.subdata(in: Int(position)..<(Int(position) + size)) })
        }
        guard let data = archive.data else { throw CocoaError(.fileWriteUnknown) }
        return data
    }

    private static func global(_ module: String, _ name: String) -> [UInt8] {
        [UInt8(ascii: "c")] + Array(module.utf8) + [10] + Array(name.utf8) + [10]
    }

    private static func unicode(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        return [UInt8(ascii: "X")] + littleEndian(UInt32(bytes.count)) + bytes
    }

    /// BININT (4 bytes, signed) or LONG1 for what does not fit.
    private static func integer(_ value: Int) -> [UInt8] {
        if let small = Int32(exactly: value) { return [UInt8(ascii: "J")] + littleEndian(UInt32(bitPattern: small)) }
        return [0x8A, 8] + (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    private static func tuple(_ items: [[UInt8]]) -> [UInt8] {
        [UInt8(ascii: "(")] + items.flatMap { $0 } + [UInt8(ascii: "t")]
    }

    private static func littleEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
}

extension PT2SampleInputs {
    /// The positional tensors of a sample-inputs entry (`torch.save(((x, ...), {...}))`, a zip
    /// inside the archive), read with the same restricted unpickler and bounds checks as any
    /// torch.save file. Arguments that are not tensors, and keyword arguments, are named in
    /// `notes` rather than read: zoo's programs take tensors by position.
    static func read(_ bytes: [UInt8], entryName: String, path: String) throws(CheckpointError) -> (inputs: [Tensor], notes: [String]) {
        let problem = bytes.withUnsafeBytes { ZipDirectoryBounds.problem(in: $0) }
        if let problem { throw .damaged(path: path, reason: "\(entryName) is a damaged zip: \(problem)") }
        let archive: Archive
        do { archive = try Archive(data: Data(bytes), accessMode: .read) } catch {
            throw .damaged(path: path, reason: "\(entryName) is not a torch.save zip (\(error))")
        }
        let entries = ZipEntries(archive: archive, bytes: bytes, path: "\(path) (\(entryName))")
        let byPath = entries.byPath()
        guard let picklePath = byPath.keys.filter({ $0.hasSuffix("data.pkl") }).min(by: { $0.count < $1.count }),
            let pickleEntry = byPath[picklePath]
        else { throw .damaged(path: path, reason: "\(entryName) holds no data.pkl") }
        let prefix = String(picklePath.dropLast("data.pkl".count))
        if let order = byPath[prefix + "byteorder"], String(decoding: try entries.bytes(of: order), as: UTF8.self) != "little" {
            throw .damaged(path: path, reason: "\(entryName) is not little-endian")
        }
        let pickle = try entries.bytes(of: pickleEntry)
        do {
            let root = try pickle.withUnsafeBytes { buffer throws(PickleError) in
                var unpickler = Unpickler(buffer)
                unpickler.persistentLoad = { id throws(PickleError) in .storage(try TorchStateDict.storage(fromPersistentID: id)) }
                return try unpickler.load()
            }
            guard let pair = root.tupleValue, pair.count == 2, let arguments = pair[0].tupleValue else {
                throw PickleError.damaged("\(entryName) is a \(root.kind), not the pair (args, kwargs) torch.export saves")
            }
            var inputs: [Tensor] = []
            var notes: [String] = []
            for (index, argument) in arguments.enumerated() {
                guard case .tensor(let reference) = argument else {
                    notes.append("sample input \(index) is a \(argument.kind), not a tensor: not read")
                    continue
                }
                guard let storage = byPath[prefix + "data/" + reference.storage.key] else {
                    throw PickleError.damaged("\(entryName) lacks storage '\(reference.storage.key)'")
                }
                let storageBytes = try entries.bytes(of: storage)
                inputs.append(
                    try storageBytes.withUnsafeBytes { buffer throws(PickleError) in
                        try TorchStateDict.materialise(reference, storageBytes: buffer)
                    })
            }
            if case .dict(let keywords) = pair[1], !keywords.isEmpty {
                notes.append("the sample inputs' \(keywords.entries.count) keyword arguments are not read")
            }
            return (inputs, notes)
        } catch let error as PickleError {
            throw CheckpointError(error, path: path)
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .damaged(path: path, reason: "\(entryName): \(error)")
        }
    }
}
