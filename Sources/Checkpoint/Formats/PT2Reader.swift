import Foundation
import JSON
import Tensor
@preconcurrency import ZIPFoundation

/// `torch.export.save` archives (`.pt2`, PyTorch's PT2 archive format): a zip holding
/// `<archive>/archive_format` ("pt2"), the serialized ExportedProgram in `models/<name>.json`, its
/// weights as raw little-endian bytes in `data/weights/` described by
/// `data/weights/<name>_weights_config.json`, tensor constants in `data/constants/`, and sample
/// inputs in `data/sample_inputs/<name>.pt`.
///
/// The weights become the state_dict under their state_dict names (the graph signature's
/// parameter and buffer targets, in the signature's order). The program itself is summarised in
/// the checkpoint's metadata: the torch and schema versions and the ATen operators the graph
/// calls with their counts. Nothing in the archive is executed or unpickled; a weight stored as a
/// pickle, or a schema newer than zoo knows, is refused.
enum PT2Reader: CheckpointContainerReader {
    static let container = CheckpointContainer.pt2
    /// The newest ExportedProgram schema major version zoo reads (torch 2.15 writes 8.20).
    static let schemaMajor = 8

    /// True when the zip at `path` says it is a PT2 archive (an `archive_format` entry reading "pt2").
    /// A zip whose directory is damaged is no PT2 archive here (the torch zip reader then says
    /// what is wrong): ZIPFoundation traps on some impossible directory numbers.
    static func isArchive(_ path: String) -> Bool {
        guard let file = try? MappedFile(path: path),
            file.withBytes({ ZipDirectoryBounds.problem(in: $0, releasing: file.release) }) == nil,
            let archive = try? TorchZipReader.openArchive(path)
        else { return false }
        return archive.contains { $0.path.hasSuffix("archive_format") && $0.uncompressedSize < 64 }
    }

    static func read(_ path: String, sink: TensorSink) throws(CheckpointError) -> RawCheckpoint {
        var entries = try ZipEntries(checkedArchiveAt: path)
        var byPath = entries.byPath()
        guard let formatPath = byPath.keys.filter({ $0.hasSuffix("archive_format") }).min(by: { $0.count < $1.count }),
            let formatEntry = byPath[formatPath]
        else { throw .damaged(path: path, reason: "the zip archive has no archive_format entry") }
        let prefix = String(formatPath.dropLast("archive_format".count))
        let format = String(decoding: try entries.bytes(of: formatEntry), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard format == "pt2" else { throw .damaged(path: path, reason: "archive_format is '\(format)', not 'pt2'") }
        if let order = byPath[prefix + "byteorder"] {
            let text = String(decoding: try entries.bytes(of: order), as: UTF8.self)
            guard text == "little" else { throw .damaged(path: path, reason: "byteorder is '\(text)'; zoo reads little-endian archives") }
        }

        let models = byPath.keys.filter { $0.hasPrefix(prefix + "models/") && $0.hasSuffix(".json") }.sorted()
        guard let programPath = models.first, let programEntry = byPath[programPath] else {
            throw .damaged(path: path, reason: "the archive holds no program (models/<name>.json)")
        }
        let name = String(programPath.dropFirst((prefix + "models/").count).dropLast(".json".count))
        var programText: String? = try entries.text(of: programEntry)
        // The parsed program and weights config are read for a few facts each and let go before
        // the weights are: as trees of values they take several times their text (a program of
        // 20,000 weights: 6.6 MB of JSON, 45 MB parsed), which beside the weights was most of a
        // read's peak memory.
        let (order, metadata) = try programFacts(
            programText ?? "", name: name, models: models.count, path: path, programPath: programPath)
        // A facts-only read reports the program's summary, never runs it: its text (6.6 MB for
        // 20,000 weights) goes before the weights config is parsed. A read that hands the text
        // on (to a parser, or to the parent of a reading child) lets it go there, so that the
        // text and the weights are never held at once.
        if !sink.keepsTensors {
            programText = nil
        } else if let take = sink.program, let text = programText.take() {
            try take(text)
        }
        guard let configEntry = byPath[prefix + "data/weights/\(name)_weights_config.json"] else {
            throw .damaged(path: path, reason: "the archive lacks data/weights/\(name)_weights_config.json")
        }
        // Each weight's description and zip entry, in the state_dict's order; the config's
        // dictionary of them and the archive's index by path (4 MB each for 20,000 weights) go
        // before any weight is read.
        var weights: [(key: String, description: WeightDescription, entry: ZipRecord?)] = []
        do {
            let descriptions = try weightDescriptions(configEntry, entries: entries, path: path)
            weights.reserveCapacity(descriptions.count)
            for key in order(Array(descriptions.keys)) {
                guard let description = descriptions[key] else { continue }
                weights.append((key, description, description.file.flatMap { byPath[prefix + "data/weights/" + $0] }))
            }
        }
        let samples = byPath[prefix + "data/sample_inputs/\(name).pt"]
        byPath = [:]
        entries.forgetPaths()
        var tensors: [(String, Tensor)] = []
        tensors.reserveCapacity(weights.count)
        for (key, description, entry) in weights {
            let tensor = try weight(key, description, entry: entry, entries: entries, path: path)
            tensors.append((key, sink.take(tensor, key: key)))
        }
        var raw = RawCheckpoint(container: container, entries: tensors, manifest: nil)
        raw.metadata = metadata
        raw.programText = programText
        if let samples {
            let entryName = "data/sample_inputs/\(name).pt"
            let (inputs, notes) = try PT2SampleInputs.read(try entries.bytes(of: samples), entryName: entryName, path: path)
            raw.sampleInputs = inputs
            raw.notes += notes
        }
        if models.count > 1 { raw.notes.append("the archive holds \(models.count) programs; read the weights of '\(name)'") }
        return raw
    }

    /// What the reader needs of the program: the order of its weights (given the config's keys)
    /// and the summary `zoo inspect` shows; refuses a schema newer than zoo reads.
    private static func programFacts(_ text: String, name: String, models: Int, path: String, programPath: String)
        throws(CheckpointError) -> (order: ([String]) -> [String], metadata: [String: String])
    {
        let program: JSONValue
        do { program = try JSONValue.parse(text, keeping: programPaths) } catch {
            throw .damaged(path: path, reason: "\(programPath) is not valid JSON (\(error))")
        }
        let schema = program["schema_version"]
        let (major, minor) = (Int(schema?["major"]?.intValue ?? 0), Int(schema?["minor"]?.intValue ?? 0))
        guard major <= schemaMajor else { throw .refused(path: path, .exportSchemaTooNew(major: major, minor: minor)) }
        let signatureOrder = signatureOrder(program: program)
        return ({ stateDictOrder(signatureOrder, configKeys: $0) }, summary(of: program, name: name, models: models))
    }

    /// What ``programFacts`` reads of a program; the rest (every node's arguments, every tensor's
    /// metadata) is checked as JSON but never becomes a tree of values.
    private static let programPaths = [
        ["schema_version"], ["torch_version"], ["graph_module", "signature", "input_specs", "parameter", "parameter_name"],
        ["graph_module", "signature", "input_specs", "buffer", "buffer_name"], ["graph_module", "graph", "nodes", "target"],
    ]

    /// What ``weightDescriptions`` reads of a weights config.
    private static let weightConfigPaths = [
        ["config", "*", "use_pickle"], ["config", "*", "path_name"], ["config", "*", "tensor_meta", "dtype"],
        ["config", "*", "tensor_meta", "sizes"], ["config", "*", "tensor_meta", "strides"],
        ["config", "*", "tensor_meta", "storage_offset"],
    ]

    /// The state_dict names in the graph signature's order (parameters and buffers as the program
    /// takes them), then any other weight the config lists, sorted.
    private static func stateDictOrder(_ order: [String], configKeys: [String]) -> [String] {
        let (listed, keys) = (Set(order), Set(configKeys))
        return order.filter(keys.contains) + configKeys.filter { !listed.contains($0) }.sorted()
    }

    /// The parameters and buffers in the order the graph signature takes them.
    private static func signatureOrder(program: JSONValue) -> [String] {
        let specs = program["graph_module"]?["signature"]?["input_specs"]?.arrayValue ?? []
        var order: [String] = []
        for spec in specs {
            if let name = spec["parameter"]?["parameter_name"]?.stringValue { order.append(name) }
            if let name = spec["buffer"]?["buffer_name"]?.stringValue { order.append(name) }
        }
        return order
    }

    /// Where one weight is and what it is, as the weights config describes it.
    private struct WeightDescription {
        var pickled: Bool
        var file: String?
        var dtypeCode: Int
        var sizes: [Int]
        var strides: [Int]
        var offset: Int
    }

    /// Each weight's description from the weights config, by state_dict name. Each is read out of
    /// its record as the parser hands it on: as a tree of values, the config of 20,000 weights took
    /// 24 MiB beside its text, more than the weights read next.
    private static func weightDescriptions(_ entry: ZipRecord, entries: ZipEntries, path: String) throws(CheckpointError)
        -> [String: WeightDescription]
    {
        var descriptions: [String: WeightDescription] = [:]
        let text = try entries.text(of: entry)
        do {
            _ = try JSONValue.parse(text, keeping: weightConfigPaths, handing: ["config"]) { key, description in
                let meta = description["tensor_meta"]
                descriptions[key] = WeightDescription(
                    pickled: description["use_pickle"]?.boolValue == true, file: description["path_name"]?.stringValue,
                    dtypeCode: Int(meta?["dtype"]?.intValue ?? -1),
                    sizes: (meta?["sizes"]?.arrayValue ?? []).map { Int($0["as_int"]?.intValue ?? -1) },
                    strides: (meta?["strides"]?.arrayValue ?? []).map { Int($0["as_int"]?.intValue ?? -1) },
                    offset: Int(meta?["storage_offset"]?["as_int"]?.intValue ?? 0))
            }
        } catch {
            throw .damaged(path: path, reason: "\(entry.path) is not valid JSON (\(error))")
        }
        return descriptions
    }

    /// One weight: its raw bytes, with the dtype, sizes, strides and offset its config gives.
    private static func weight(
        _ key: String, _ description: WeightDescription, entry: ZipRecord?, entries: ZipEntries, path: String
    ) throws(CheckpointError) -> Tensor {
        if description.pickled { throw .refused(path: path, .pickledExportWeight(key: key)) }
        guard let file = description.file, let entry else {
            throw .damaged(path: path, reason: "weight '\(key)' names no stored file")
        }
        guard let dtype = dtypes[description.dtypeCode] else {
            throw .unsupportedElementType(path: path, key: key, found: "torch.export ScalarType \(description.dtypeCode)")
        }
        let (sizes, strides, offset) = (description.sizes, description.strides, description.offset)
        guard sizes.allSatisfy({ $0 >= 0 }), let count = Tensor.elementCount(sizes) else {
            throw .invalidTensor(path: path, key: key, reason: "sizes \(sizes) are not a shape")
        }
        var contiguous: [Int] = []
        var step = 1
        for size in sizes.reversed() {
            contiguous.insert(step, at: 0)
            step *= Swift.max(size, 1)
        }
        guard count == 0 || strides == contiguous || sizes.count <= 1 && strides.allSatisfy({ $0 == 1 }) else {
            throw .invalidTensor(path: path, key: key, reason: "strides \(strides) are not contiguous for sizes \(sizes)")
        }
        let width = dtype.byteCount
        let (end, overflow) = (offset + count).multipliedReportingOverflow(by: width)
        guard offset >= 0, !overflow, UInt64(end) <= entry.uncompressedSize else {
            throw .damaged(
                path: path, reason: "weight '\(key)' needs \(end) bytes of \(file), which holds \(entry.uncompressedSize)")
        }
        // loads (issue 19): a weight that is its whole file is read straight into the tensor, one copy.
        if offset == 0 && UInt64(end) == entry.uncompressedSize {
            do { return try Tensor(shape: sizes, dtype: dtype) { try entries.read(entry, into: $0) } } catch let error as CheckpointError {
                throw error
            } catch { throw .invalidTensor(path: path, key: key, reason: "\(error)") }
        }
        // end loads
        let bytes = try entries.bytes(of: entry)
        do {
            return try bytes.withUnsafeBytes { buffer throws(TensorError) in
                try Tensor(shape: sizes, dtype: dtype, littleEndianBytes: UnsafeRawBufferPointer(rebasing: buffer[(offset * width)..<end]))
            }
        } catch { throw .invalidTensor(path: path, key: key, reason: "\(error)") }
    }

    /// torch.export's ScalarType codes (torch/_export/serde/schema.py) that zoo's dtypes match.
    static let dtypes: [Int: DType] = [
        1: .uint8, 2: .int8, 3: .int16, 4: .int32, 5: .int64, 6: .float16, 7: .float32, 8: .float64, 12: .bool, 13: .bfloat16,
    ]

    /// What `zoo inspect` shows of the program: versions, and the operators the graph calls.
    private static func summary(of program: JSONValue, name: String, models: Int) -> [String: String] {
        var operators: [String: Int] = [:]
        for node in program["graph_module"]?["graph"]?["nodes"]?.arrayValue ?? [] {
            if let target = node["target"]?.stringValue {
                operators[target.replacingOccurrences(of: "torch.ops.", with: ""), default: 0] += 1
            }
        }
        let schema = program["schema_version"]
        var metadata = [
            "program": name,
            "program_operators": operators.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", "),
            "program_schema_version": "\(schema?["major"]?.intValue ?? 0).\(schema?["minor"]?.intValue ?? 0)",
        ]
        if let torch = program["torch_version"]?.stringValue { metadata["program_torch_version"] = torch }
        return metadata
    }
}
