import Foundation
import JSON
import Tensor

/// The `safetensors` package's format: an 8-byte little-endian header length N, N bytes of
/// JSON (`{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {"key": "value"}}`), then the tensors' little-endian bytes.
enum Safetensors {
    /// The reference implementation refuses headers over 100 MB; so does zoo.
    static let maximumHeaderLength = 100_000_000
    /// `__metadata__` keys zoo stores its manifest and reference vectors under.
    static let manifestKey = "zoo_manifest"
    static let testsKey = "zoo_tests"
    static let evalKey = "zoo_eval"
    static let signatureKey = "zoo_signature"
    /// The state_dict's key order (safetensors orders tensors by offset, which zoo keeps in
    /// state_dict order, but other writers sort them).
    static let keyOrderKey = "zoo_key_order"

    static let dtypeNames: [String: DType] = [
        "F64": .float64, "F32": .float32, "F16": .float16, "BF16": .bfloat16, "I64": .int64, "I32": .int32,
        "I16": .int16, "I8": .int8, "U8": .uint8, "BOOL": .bool,
    ]

    static func name(of dtype: DType) -> String {
        dtypeNames.first { $0.value == dtype }?.key ?? "F32"
    }
}

enum SafetensorsReader: CheckpointContainerReader {
    static let container = CheckpointContainer.safetensors

    private struct Record {
        var key: String
        var dtype: DType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    static func read(_ path: String, sink: TensorSink) throws(CheckpointError) -> RawCheckpoint {
        try read(path, consuming: false, sink: sink)
    }

    /// Reads the file at `path`; `consuming` cuts each tensor's bytes out of the file once they are
    /// copied (for a scratch file read once: contained reading's transfer file).
    static func read(_ path: String, consuming: Bool, sink: TensorSink = .keepAll) throws(CheckpointError) -> RawCheckpoint {
        let file: MappedFile
        do { file = try MappedFile(path: path, consuming: consuming) } catch { throw .damaged(path: path, reason: "\(error)") }
        return try file.withBytes { bytes throws(CheckpointError) in
            guard bytes.count >= 8 else {
                throw .damaged(path: path, reason: "the file is truncated: \(bytes.count) bytes, no header length")
            }
            let declared = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
            guard declared <= UInt64(Safetensors.maximumHeaderLength) else {
                throw .damaged(path: path, reason: "the header claims \(declared) bytes, over safetensors' limit of 100 MB")
            }
            let headerLength = Int(declared)
            guard headerLength <= bytes.count - 8 else {
                throw .damaged(
                    path: path, reason: "the header claims \(headerLength) bytes, past the end of the file (\(bytes.count) bytes)")
            }
            let dataStart = 8 + headerLength
            let dataLength = bytes.count - dataStart
            // The parsed header is let go before the tensors are read: for 20,000 small tensors
            // its tree of values is 8 MB beside their 20.
            var (metadata, records) = try header(UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart]), path: path)
            records.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
            var expectedBegin = 0
            for record in records {
                guard record.begin == expectedBegin else {
                    throw .damaged(
                        path: path,
                        reason: record.begin < expectedBegin
                            ? "tensor '\(record.key)' overlaps the tensor before it (bytes \(record.begin)..<\(record.end))"
                            : "a gap of \(record.begin - expectedBegin) bytes precedes tensor '\(record.key)'")
                }
                guard record.end <= dataLength else {
                    throw .damaged(
                        path: path,
                        reason: "tensor '\(record.key)' ends at byte \(record.end), past the end of the file's \(dataLength) data bytes")
                }
                expectedBegin = record.end
            }
            guard expectedBegin == dataLength else {
                throw .damaged(path: path, reason: "\(dataLength - expectedBegin) bytes after the last tensor belong to none")
            }
            if metadata[Safetensors.manifestKey] != nil { sink.expectChecksums() }
            var entries: [(String, Tensor)] = []
            entries.reserveCapacity(records.count)
            for record in records {
                let range = (dataStart + record.begin)..<(dataStart + record.end)
                do {
                    let tensor = try Tensor(shape: record.shape, dtype: record.dtype) { try file.copy(range, into: $0) }
                    entries.append((record.key, sink.take(tensor, key: record.key)))
                } catch {
                    throw .invalidTensor(path: path, key: record.key, reason: "\(error)")
                }
            }
            var raw = RawCheckpoint(container: container, entries: entries, manifest: nil)
            if let text = metadata.removeValue(forKey: Safetensors.manifestKey) {
                raw.manifest = try Manifest(json: text, path: path)
                raw.manifestText = text
            }
            if let text = metadata.removeValue(forKey: Safetensors.keyOrderKey),
                let order = (try? JSONValue.parse(text))?.arrayValue?.compactMap(\.stringValue)
            {
                let position = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
                raw.entries.sort { (position[$0.0] ?? Int.max) < (position[$1.0] ?? Int.max) }
            }
            if let text = metadata.removeValue(forKey: Safetensors.testsKey) {
                raw.referenceCases = try ReferenceVectorJSON.decode(text, path: path)
            }
            if let text = metadata.removeValue(forKey: Safetensors.evalKey) { raw.evalSet = try EvalSetIO.decode(text, path: path) }
            if let text = metadata.removeValue(forKey: SampleInputsIO.metadataKey) {
                raw.sampleInputs = try SampleInputsIO.decode(text, path: path)
            }
            raw.signature = metadata.removeValue(forKey: Safetensors.signatureKey)
            raw.metadata = metadata
            return raw
        }
    }

    /// The header's `__metadata__` strings and its tensors' records.
    private static func header(_ text: UnsafeRawBufferPointer, path: String) throws(CheckpointError) -> (
        metadata: [String: String], records: [Record]
    ) {
        let header: JSONValue
        do { header = try JSONValue.parse(String(decoding: text, as: UTF8.self)) } catch {
            throw .damaged(path: path, reason: "the header is not valid JSON")
        }
        guard let fields = header.objectValue else { throw .damaged(path: path, reason: "the header is not a JSON object") }
        var metadata: [String: String] = [:]
        var records: [Record] = []
        records.reserveCapacity(fields.count)
        for (key, value) in fields {
            if key == "__metadata__" {
                guard let object = value.objectValue else { throw .damaged(path: path, reason: "__metadata__ is not an object") }
                for (name, text) in object {
                    guard let text = text.stringValue else {
                        throw .damaged(path: path, reason: "__metadata__['\(name)'] is not a string")
                    }
                    metadata[name] = text
                }
                continue
            }
            // Out of the tree of values, which goes before the tensors are read (see `detached`).
            records.append(try record(key.detached, value, path: path))
        }
        return (metadata, records)
    }

    /// The header's `zoo_manifest`, reading the header only (bounded as `read` bounds it).
    static func readManifestText(_ path: String) throws(CheckpointError) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .damaged(path: path, reason: "cannot be opened") }
        defer { try? handle.close() }
        guard let prefix = try? handle.read(upToCount: 8), prefix.count == 8 else {
            throw .damaged(path: path, reason: "the file is truncated: no header length")
        }
        let declared = prefix.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard declared <= UInt64(Safetensors.maximumHeaderLength) else {
            throw .damaged(path: path, reason: "the header claims \(declared) bytes, over safetensors' limit of 100 MB")
        }
        guard let header = try? handle.read(upToCount: Int(declared)), header.count == Int(declared),
            let value = try? JSONValue.parse(String(decoding: header, as: UTF8.self))
        else { throw .damaged(path: path, reason: "the header is truncated or not JSON") }
        return value["__metadata__"]?[Safetensors.manifestKey]?.stringValue
    }

    private static func record(_ key: String, _ value: JSONValue, path: String) throws(CheckpointError) -> Record {
        guard let name = value["dtype"]?.stringValue, let shapeValues = value["shape"]?.arrayValue,
            let offsets = value["data_offsets"]?.arrayValue?.compactMap(\.intValue), offsets.count == 2
        else { throw .damaged(path: path, reason: "tensor '\(key)' lacks dtype, shape or data_offsets") }
        guard let dtype = Safetensors.dtypeNames[name] else {
            throw .unsupportedElementType(path: path, key: key, found: "safetensors dtype \(name)")
        }
        let shape = shapeValues.compactMap(\.intValue)
        guard shape.count == shapeValues.count, let count = Tensor.elementCount(shape),
            !count.multipliedReportingOverflow(by: dtype.byteCount).overflow
        else { throw .damaged(path: path, reason: "tensor '\(key)' has an invalid shape \(shapeValues)") }
        guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == count * dtype.byteCount else {
            throw .damaged(
                path: path,
                reason:
                    "tensor '\(key)': data_offsets \(offsets) span \(offsets[1] - offsets[0]) bytes, but \(name) \(shape) needs \(count * dtype.byteCount)"
            )
        }
        return Record(key: key, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }
}

enum SafetensorsWriter {
    /// One member of the header: a tensor's description, or `__metadata__`.
    private enum HeaderField {
        case tensor(dtype: String, shape: [Int], begin: Int, end: Int)
        case metadata([String: String])
    }

    /// Writes `stateDict` in state_dict order, with zoo's manifest (checksums filled in) and the
    /// reference vectors in `__metadata__`, atomically.
    static func write(
        _ stateDict: StateDict, manifest: Manifest, referenceCases: [ReferenceCase], evalSet: EvalSet?, signature: String?,
        extraMetadata: [String: String], to path: String, durable: Bool = true
    ) throws(CheckpointError) {
        var tensors = stateDict
        try write(
            emptying: &tensors, manifest: manifest, referenceCases: referenceCases, evalSet: evalSet, signature: signature,
            extraMetadata: extraMetadata, to: path, durable: durable)
    }

    /// Writes as ``write(_:manifest:referenceCases:evalSet:signature:extraMetadata:to:durable:)``
    /// does, letting go of each tensor once its bytes are written: when `stateDict` is the only
    /// holder of its tensors (contained reading's child), the file grows as they are freed, so
    /// that the process never holds them twice. The tensors are left empty.
    static func write(
        emptying stateDict: inout StateDict, manifest: Manifest, referenceCases: [ReferenceCase], evalSet: EvalSet?,
        signature: String?, extraMetadata: [String: String], to path: String, durable: Bool = true
    ) throws(CheckpointError) {
        var fields: [String: HeaderField] = [:]
        var offset = 0
        for key in stateDict.keys {
            guard let tensor = stateDict[key] else { continue }
            let size = tensor.count * tensor.dtype.byteCount
            fields[key] = .tensor(dtype: Safetensors.name(of: tensor.dtype), shape: tensor.shape, begin: offset, end: offset + size)
            offset += size
        }
        var metadata = extraMetadata
        metadata["format"] = metadata["format"] ?? "pt"
        metadata[Safetensors.manifestKey] = manifest.json.serialized()
        if !referenceCases.isEmpty { metadata[Safetensors.testsKey] = ReferenceVectorJSON.encode(referenceCases) }
        if let evalSet { metadata[Safetensors.evalKey] = EvalSetIO.encode(evalSet) }
        if let signature { metadata[Safetensors.signatureKey] = signature }
        var order = JSONText()
        order.raw("[")
        for (index, key) in stateDict.keys.enumerated() {
            if index > 0 { order.raw(",") }
            order.string(key)
        }
        order.raw("]")
        metadata[Safetensors.keyOrderKey] = String(decoding: order.bytes, as: UTF8.self)
        fields["__metadata__"] = .metadata(metadata)
        // Written as text directly: as a tree of values (and Foundation's encoder's own tree on
        // top) the header of 20,000 small tensors took more memory than the tensors. Its room is
        // made at once (a little more than the metadata and about 100 bytes a tensor), as a
        // header with a .pt2's program in it is megabytes.
        var text = JSONText()
        text.reserveCapacity(metadata.values.reduce(0) { $0 + $1.utf8.count } * 9 / 8 + fields.count * 100 + 4096)
        text.object(fields) { text, field in
            switch field {
            case .tensor(let dtype, let shape, let begin, let end):
                text.raw("{\"dtype\":")
                text.string(dtype)
                text.raw(",\"shape\":")
                text.integers(shape)
                text.raw(",\"data_offsets\":")
                text.integers([begin, end])
                text.raw("}")
            case .metadata(let values):
                text.object(values) { $0.string($1) }
            }
        }
        // The reference implementation pads the header with spaces to a multiple of 8 bytes; in
        // the text's own buffer, which a copy would double.
        text.raw(String(repeating: " ", count: (8 - text.bytes.count % 8) % 8))
        let headerBytes = text.bytes
        text = JSONText()
        let keys = stateDict.keys
        try AtomicFile.replace(path, durable: durable) { temporary in
            try AtomicFile.writeAll(to: temporary) { append throws(CheckpointError) in
                let length = UInt64(headerBytes.count)
                try append.bytes((0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) })
                try append.bytes(headerBytes)
                for key in keys {
                    guard let tensor = stateDict[key] else { continue }
                    // An empty tensor in its place frees the storage (the keys stay as they were).
                    stateDict[key] = Tensor(zeros: [0], dtype: tensor.dtype)
                    try append.tensor(tensor)
                }
            }
        }
    }
}
