import Checkpoint
import JSON
import NN
import Tensor

/// What `zoo convert` did.
public struct ConversionReport: Sendable, Encodable {
    public var input: String
    public var output: String
    public var from: CheckpointContainer
    public var to: CheckpointContainer
    public var tensors: Int
    public var referenceVectors: Int
    /// The model the state_dict was recognised as, when it was.
    public var model: String?
    public var notes: [ConversionNote]

    private enum CodingKeys: String, CodingKey {
        case input, output, from, to, tensors, referenceVectors = "reference_vectors", model, notes
    }
}

/// One note of a conversion: what it is about, and its line (in `--json`, the string alone).
public struct ConversionNote: Sendable, Encodable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// How the layout was normalised (a DataParallel prefix, a wrapper key).
        case layout
        case keptNonFinite
        case keptSignature
        /// No model recognised: verifying the output will need an architecture named.
        case unrecognisedModel
        /// A torch.export program kept in the manifest.
        case keptProgram
    }

    public var kind: Kind
    public var text: String

    public init(_ kind: Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }

    public var description: String { text }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// Why a checkpoint was not converted.
public enum ConversionError: Error, Sendable, CustomStringConvertible {
    /// The input fails its own checksums: converting would bless changed weights.
    case integrity(path: String, report: IntegrityReport)
    case unsupportedOutput(path: String)
    case write(CheckpointError)

    public var description: String {
        switch self {
        case .integrity(let path, let report):
            let keys = report.checksumMismatches.map(\.key)
            return
                "\(path) fails its own checksums (\(keys.prefix(5).joined(separator: ", "))\(keys.count > 5 ? " and more" : "")); nothing was written"
        case .unsupportedOutput(let path):
            return "\(path): the output must end in .h5 (HDF5 format v1) or .safetensors"
        case .write(let error): return error.description
        }
    }
}

public enum Converter {
    /// Writes `checkpoint` to `path` as HDF5 format v1 (`.h5`, `.hdf5`) or safetensors
    /// (`.safetensors`), by the extension. No architecture is needed; when the registry or the
    /// manifest recognises the model, its `arch` is recorded and the keys take its order. The
    /// manifest (unknown fields kept), checksums and reference vectors travel with the weights.
    public static func convert(_ checkpoint: LoadedCheckpoint, to path: String) throws(ConversionError) -> ConversionReport {
        let lowered = path.lowercased()
        guard lowered.hasSuffix(".h5") || lowered.hasSuffix(".hdf5") || lowered.hasSuffix(".safetensors") else {
            throw .unsupportedOutput(path: path)
        }
        let format = CheckpointWriter.format(forPath: path)
        let integrity = IntegrityReport(checkpoint.stateDict, manifest: checkpoint.manifest, storedKeys: checkpoint.storedKeys)
        guard integrity.checksumMismatches.isEmpty else { throw .integrity(path: checkpoint.path, report: integrity) }

        var notes = checkpoint.layoutNotes.map { ConversionNote(.layout, $0) }
        if !integrity.nonFinite.isEmpty {
            notes.append(
                ConversionNote(
                    .keptNonFinite, "kept non-finite values as they are in: \(integrity.nonFinite.map(\.key).joined(separator: ", "))"))
        }
        var manifest = checkpoint.manifest ?? Manifest()
        var stateDict = checkpoint.stateDict
        var model: String?
        // A signed file keeps its manifest byte for byte, so that its signature still holds.
        let signed = checkpoint.signatureText != nil
        if signed {
            notes.append(ConversionNote(.keptSignature, "kept the signature: the manifest and every tensor are carried unchanged"))
        }
        if !signed, let resolved = try? ModelResolver.resolve(checkpoint),
            LoadReport(modelName: resolved.label, expected: resolved.model.expectedTensors, stateDict: stateDict).isClean
        {
            model = resolved.label
            if let architecture = resolved.architecture {
                manifest.arch = architecture.name
                manifest.archArgs = resolved.arguments.mapValues { .int(Int64($0)) }
            }
            // The model's own order, as model.state_dict() lists it.
            let order = resolved.model.stateDict().keys
            stateDict = StateDict(order.compactMap { key in stateDict[key].map { (key, $0) } })
        } else if !signed {
            notes.append(
                ConversionNote(
                    .unrecognisedModel, "no model recognised: converted without arch (verify will need an architecture or a model_config)"))
        }
        if !signed, let text = checkpoint.programText, let program = try? JSONValue.parse(text) {
            manifest.program = withoutSourceLocations(program)
            notes.append(
                ConversionNote(.keptProgram, "kept the torch.export program in the manifest (stack traces and file paths dropped)"))
        }
        if !checkpoint.metadata.isEmpty && format == .hdf5 && !signed {
            manifest.extra["safetensors_metadata"] = .object(checkpoint.metadata.mapValues { .string($0) })
        }
        var metadata = checkpoint.metadata
        if format == .safetensors, !signed, case .object(let kept)? = manifest.extra["safetensors_metadata"] {
            for (key, value) in kept { if let text = value.stringValue { metadata[key] = text } }
            manifest.extra["safetensors_metadata"] = nil
        }
        if !signed { manifest.producer = "zoo convert (from \(checkpoint.container.rawValue))" }
        do {
            try CheckpointWriter.write(
                stateDict, manifest: manifest, referenceCases: checkpoint.referenceCases, evalSet: checkpoint.evalSet,
                signature: checkpoint.signatureText, to: path, format: format, metadata: metadata)
        } catch {
            throw .write(error)
        }
        return ConversionReport(
            input: checkpoint.path, output: path, from: checkpoint.container, to: format, tensors: stateDict.count,
            referenceVectors: checkpoint.referenceCases.count, model: model, notes: notes)
    }
}

/// `program` without what PyTorch records of the user's machine: each node's stack trace (file
/// paths and source lines), which a shared file should not carry and no run needs.
private func withoutSourceLocations(_ program: JSONValue) -> JSONValue {
    guard case .object(var root) = program, case .object(var module)? = root["graph_module"],
        case .object(var graph)? = module["graph"], case .array(let nodes)? = graph["nodes"]
    else { return program }
    graph["nodes"] = .array(
        nodes.map { node in
            guard case .object(var fields) = node, case .object(var metadata)? = fields["metadata"] else { return node }
            metadata["stack_trace"] = nil
            fields["metadata"] = .object(metadata)
            return .object(fields)
        })
    module["graph"] = .object(graph)
    root["graph_module"] = .object(module)
    return .object(root)
}
