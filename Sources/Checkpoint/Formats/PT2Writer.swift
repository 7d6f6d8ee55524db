import Foundation
import JSON
import Tensor
@preconcurrency import ZIPFoundation

/// Writes a `torch.export.save`-compatible archive (`.pt2`) from a state_dict and the program it
/// belongs to, so that `torch.export.load(path).module()(x)` runs in PyTorch on the weights zoo
/// holds: the entries PyTorch's PT2 archive has (`archive_format`, `archive_version`,
/// `byteorder`, `.data/version`, `models/model.json`, each weight raw and uncompressed in
/// `data/weights/` with `model_weights_config.json`, an empty constants config), under one
/// top-level folder named after the file.
///
/// zoo's own records (manifest, reference vectors, signature) have no place in PyTorch's format
/// and are not written; the archive is built in memory and replaces `path` atomically.
enum PT2Writer {
    /// `sampleInput` becomes the archive's sample input (zeros of the exported example's shape
    /// when nil).
    static func write(_ stateDict: StateDict, program: JSONValue, sampleInput: Tensor?, to path: String) throws(CheckpointError) {
        let inputs = program["graph_module"]?["signature"]?["input_specs"]?.arrayValue ?? []
        var roles: [String: Bool] = [:]
        for spec in inputs {
            if let name = spec["parameter"]?["parameter_name"]?.stringValue { roles[name] = true }
            if let name = spec["buffer"]?["buffer_name"]?.stringValue { roles[name] = false }
        }
        let missing = roles.keys.filter { stateDict[$0] == nil }.sorted()
        guard missing.isEmpty else {
            throw .writeFailed(
                path: path,
                reason: "the program takes \(missing.count) tensors the state_dict lacks: \(missing.prefix(3).joined(separator: ", "))")
        }
        let folder = archiveFolder(for: path)
        var members: [(String, Data)] = []
        var config: [String: JSONValue] = [:]
        for (index, key) in stateDict.keys.enumerated() {
            guard let tensor = stateDict[key], let code = PT2Reader.dtypes.first(where: { $0.value == tensor.dtype })?.key else {
                throw .writeFailed(path: path, reason: "'\(key)' has a dtype a .pt2 archive cannot hold")
            }
            let file = "weight_\(index)"
            members.append(("data/weights/" + file, Data(tensor.littleEndianBytes)))
            config[key] = .object([
                "path_name": .string(file), "is_param": .bool(roles[key] ?? false), "use_pickle": .bool(false),
                "tensor_meta": tensorMeta(tensor, dtypeCode: code, requiresGrad: roles[key] ?? false),
            ])
        }
        members += [
            ("archive_format", Data("pt2".utf8)), ("archive_version", Data("0".utf8)), ("byteorder", Data("little".utf8)),
            (".data/version", Data("6\n".utf8)),
            ("models/model.json", Data(program.serialized().utf8)),
            ("data/weights/model_weights_config.json", Data(JSONValue.object(["config": .object(config)]).serialized().utf8)),
            ("data/constants/model_constants_config.json", Data(#"{"config": {}}"#.utf8)),
        ]
        let image: Data
        do {
            members.append(
                ("data/sample_inputs/model.pt", try PT2SampleInputs.torchSave(sampleInput ?? Tensor(zeros: exampleShape(program)))))
            let archive = try Archive(data: Data(), accessMode: .create)
            for (name, data) in members {
                try archive.addEntry(
                    with: folder + "/" + name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .none,
                    provider: { position, size in data.subdata(in: Int(position)..<(Int(position) + size)) })
            }
            guard let data = archive.data else { throw CheckpointError.writeFailed(path: path, reason: "the archive was not built") }
            image = data
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .writeFailed(path: path, reason: "\(error)")
        }
        try AtomicFile.replace(path) { temporary in try AtomicFile.writeAll([UInt8](image), to: temporary) }
    }

    /// The user input's shape in the example the program was exported with (the recorded hint
    /// where a size is dynamic).
    static func exampleShape(_ program: JSONValue) -> [Int] {
        let specs = program["graph_module"]?["signature"]?["input_specs"]?.arrayValue ?? []
        guard let name = specs.lazy.compactMap({ $0["user_input"]?["arg"]?["as_tensor"]?["name"]?.stringValue }).first,
            let sizes = program["graph_module"]?["graph"]?["tensor_values"]?[name]?["sizes"]?.arrayValue
        else { return [1] }
        return sizes.map { Int($0["as_int"]?.intValue ?? $0["as_expr"]?["hint"]?["as_int"]?.intValue ?? 1) }
    }

    /// The folder every entry sits in: the file's name without extension, as `torch.export.save`
    /// names it, kept to characters a zip path takes everywhere.
    static func archiveFolder(for path: String) -> String {
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let cleaned = String(stem.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
        return cleaned.isEmpty ? "archive" : cleaned
    }

    private static func tensorMeta(_ tensor: Tensor, dtypeCode: Int, requiresGrad: Bool) -> JSONValue {
        var strides: [Int] = []
        var step = 1
        for size in tensor.shape.reversed() {
            strides.insert(step, at: 0)
            step *= Swift.max(size, 1)
        }
        let integers = { (values: [Int]) in JSONValue.array(values.map { .object(["as_int": .int(Int64($0))]) }) }
        return .object([
            "dtype": .int(Int64(dtypeCode)), "sizes": integers(tensor.shape), "requires_grad": .bool(requiresGrad),
            "device": .object(["type": .string("cpu"), "index": .null]), "strides": integers(strides),
            "storage_offset": .object(["as_int": .int(0)]), "layout": .int(7),
        ])
    }
}
