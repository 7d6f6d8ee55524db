import Checkpoint
import JSON
import NN
import Pictures
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
        /// zoo's own records (manifest, checksums, reference vectors, signature), which a format
        /// without a place for them does not carry.
        case droppedRecords
        /// A preprocess or class names given by the caller, written into the manifest.
        case wroteGiven
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

/// What a conversion adds to what the input holds.
public struct ConversionOptions: Sendable {
    /// The preprocess pictures go through, in the manifest's JSON form (checked before writing).
    public var preprocess: JSONValue?
    /// Class names, index order.
    public var classes: [String]?
    /// Keep the stack traces (file paths of the exporting machine) in a program's node metadata.
    public var keepStackTraces: Bool
    /// PyTorch's output for `referenceInput` (or, without one, for the file's first sample input),
    /// to store as a new `__tests__` pair once the model is seen to reproduce it: zoo never stores
    /// an output of its own as a reference.
    public var expectedOutput: Tensor?
    public var referenceInput: Tensor?

    public init(
        preprocess: JSONValue? = nil, classes: [String]? = nil, keepStackTraces: Bool = false, expectedOutput: Tensor? = nil,
        referenceInput: Tensor? = nil
    ) {
        self.preprocess = preprocess
        self.classes = classes
        self.keepStackTraces = keepStackTraces
        self.expectedOutput = expectedOutput
        self.referenceInput = referenceInput
    }
}

/// Why a checkpoint was not converted.
public enum ConversionError: Error, Sendable, CustomStringConvertible {
    /// The input fails its own checksums: converting would bless changed weights.
    case integrity(path: String, report: IntegrityReport)
    case unsupportedOutput(path: String)
    /// A given preprocess zoo cannot run, or given classes to a signed file (whose manifest is kept
    /// byte for byte).
    case invalidOption(String)
    /// The model does not reproduce the given expected output: the pair would fail every verify.
    case referenceMismatch(String)
    case write(CheckpointError)

    public var description: String {
        switch self {
        case .integrity(let path, let report):
            let keys = report.checksumMismatches.map(\.key)
            return
                "\(path) fails its own checksums (\(keys.prefix(5).joined(separator: ", "))\(keys.count > 5 ? " and more" : "")); nothing was written"
        case .unsupportedOutput(let path):
            return "\(path): the output must end in .h5 (HDF5 format v1), .safetensors or .pt2 (torch.export)"
        case .invalidOption(let reason): return reason
        case .referenceMismatch(let reason): return "\(reason); nothing was written"
        case .write(let error): return error.description
        }
    }
}

public enum Converter {
    /// Writes `checkpoint` to `path` as HDF5 format v1 (`.h5`, `.hdf5`), safetensors
    /// (`.safetensors`) or a torch.export archive (`.pt2`, for a checkpoint that carries a
    /// program), by the extension. No architecture is needed; when the registry or the manifest
    /// recognises the model, its `arch` is recorded and the keys take its order. The manifest
    /// (unknown fields kept), checksums and reference vectors travel with the weights into zoo's
    /// formats; a `.pt2` holds only what PyTorch's format has a place for.
    public static func convert(
        _ checkpoint: LoadedCheckpoint, to path: String, options: ConversionOptions = ConversionOptions()
    ) throws(ConversionError) -> ConversionReport {
        let lowered = path.lowercased()
        guard [".h5", ".hdf5", ".safetensors", ".pt2"].contains(where: lowered.hasSuffix) else {
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
            manifest.program = options.keepStackTraces ? program : withoutSourceLocations(program)
            let dropped = options.keepStackTraces ? "stack traces kept, as asked" : "stack traces and file paths dropped"
            notes.append(ConversionNote(.keptProgram, "kept the torch.export program in the manifest (\(dropped))"))
        }
        if options.preprocess != nil || options.classes != nil {
            guard !signed else {
                throw .invalidOption(
                    "\(checkpoint.path) is signed: its manifest is carried unchanged, so no preprocess or classes can be added")
            }
            if let preprocess = options.preprocess {
                do { _ = try Preprocess(json: preprocess) } catch { throw .invalidOption("the given preprocess: \(error)") }
                manifest.preprocess = preprocess
                notes.append(ConversionNote(.wroteGiven, "wrote the given preprocess into the manifest"))
            }
            if let classes = options.classes {
                manifest.classes = classes
                notes.append(ConversionNote(.wroteGiven, "wrote the given \(classes.count) class names into the manifest"))
            }
        }
        var referenceCases = checkpoint.referenceCases
        if let expected = options.expectedOutput {
            guard !signed else {
                throw .invalidOption("\(checkpoint.path) is signed: its reference vectors are carried unchanged, so none can be added")
            }
            guard let input = options.referenceInput ?? checkpoint.sampleInputs.first else {
                throw .invalidOption("--expect needs --input: \(checkpoint.path) has no sample input to pair it with")
            }
            let added = ReferenceCase(name: "\(referenceCases.count)", input: input, output: expected)
            // Only the new pair runs: the file's own __tests__ and __eval__ are not this check's.
            var probe = checkpoint
            (probe.referenceCases, probe.evalSet) = ([], nil)
            let report = Verifier.verify(probe, options: VerificationOptions(extra: [added]))
            guard let result = report.references.last, result.passed else {
                let reason =
                    report.references.last.map { $0.error ?? "max abs err \($0.maxAbsoluteError)" } ?? report.resolutionError ?? "no model"
                throw .referenceMismatch("the model does not reproduce the expected output: \(reason)")
            }
            referenceCases.append(added)
            notes.append(
                ConversionNote(
                    .wroteGiven,
                    "stored the expected output as __tests__ pair \(added.name) (max abs err \(result.maxAbsoluteError) from zoo's pass)"))
        }
        if format == .pt2 {
            notes.append(
                ConversionNote(
                    .droppedRecords,
                    "a .pt2 archive has no place for zoo's manifest, checksums, reference vectors or signature: only the program and weights were written"
                ))
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
                stateDict, manifest: manifest, referenceCases: referenceCases, evalSet: checkpoint.evalSet,
                signature: checkpoint.signatureText, to: path, format: format, metadata: metadata,
                sampleInputs: checkpoint.sampleInputs)
        } catch {
            throw .write(error)
        }
        return ConversionReport(
            input: checkpoint.path, output: path, from: checkpoint.container, to: format, tensors: stateDict.count,
            referenceVectors: referenceCases.count, model: model, notes: notes)
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
