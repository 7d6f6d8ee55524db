import Foundation
import Tensor

/// Reads a checkpoint from any container zoo knows, recognised by content (``CheckpointContainer``),
/// and normalises its layout the same way for all: canonical dotted keys, a DataParallel
/// `module.` prefix stripped, `num_batches_tracked` filled for BatchNorm from old PyTorch, and
/// notes saying what was done.
public enum CheckpointReader {
    /// The readers, one per container; a new format is one more entry.
    static let readers: [CheckpointContainer: any CheckpointContainerReader.Type] = [
        .hdf5: HDF5CheckpointReader.self, .torchZip: TorchZipReader.self, .torchLegacy: TorchLegacyReader.self,
        .safetensors: SafetensorsReader.self, .pt2: PT2Reader.self,
    ]

    /// Groups (HDF5) or keys (torch.save) that hold the whole state_dict when a training script
    /// saved a dict around it.
    public static var wrapperGroupNames: [String] { HDF5CheckpointReader.wrapperGroupNames }

    public static func read(_ path: String) throws(CheckpointError) -> LoadedCheckpoint {
        try normalise(try reader(for: path).read(path), path: path)
    }

    /// Reads `path` as ``read(_:)`` does, except that a `.pt2`'s program text goes to `take` as
    /// soon as it is read, before any weight, instead of into the checkpoint (its `programText`
    /// is then nil): for a caller that parses the program (or passes it on) and would otherwise
    /// hold the text beside every tensor. An error `take` throws ends the read. A program kept in
    /// a manifest (a converted file's) stays in the checkpoint as before.
    public static func read(_ path: String, takingProgram take: @escaping ProgramTaker) throws(CheckpointError) -> LoadedCheckpoint {
        try normalise(try reader(for: path).read(path, sink: TensorSink(keepsTensors: true, program: take)), path: path)
    }

    /// What `zoo inspect` shows of the checkpoint at `path`, each tensor read, checked as a read
    /// checks it, summed up (shape, dtype, checksum when the file has a manifest) and let go at
    /// once: the same report as ``InspectReport/init(_:)`` of ``read(_:)``, for the memory of one
    /// tensor instead of all of them.
    public static func inspect(_ path: String) throws(CheckpointError) -> InspectReport {
        let sink = TensorSink(keepsTensors: false)
        let checkpoint = try normalise(try reader(for: path).read(path, sink: sink), path: path)
        return InspectReport(checkpoint, facts: sink.facts)
    }

    private static func reader(for path: String) throws(CheckpointError) -> any CheckpointContainerReader.Type {
        let container: CheckpointContainer
        switch FileSniffer.recognise(path) {
        case .container(let found): container = found
        case .other(let what): throw .notACheckpoint(path: path, what: what)
        }
        guard let reader = readers[container] else { throw .notACheckpoint(path: path, what: "a \(container.rawValue) file") }
        return reader
    }

    /// Reads `path` with one container's reader, whatever its content looks like: for tools that
    /// already know what they hold, and for fuzzing each reader on its own (`Fuzz/`). The file is
    /// still checked as that reader checks any file; nothing is trusted because of the choice.
    public static func read(_ path: String, as container: CheckpointContainer) throws(CheckpointError) -> LoadedCheckpoint {
        guard let reader = readers[container] else { throw .notACheckpoint(path: path, what: "a \(container.rawValue) file") }
        return try normalise(try reader.read(path), path: path)
    }

    private static func normalise(_ raw: RawCheckpoint, path: String) throws(CheckpointError) -> LoadedCheckpoint {
        var entries = raw.entries
        var notes = raw.notes
        let manifest = raw.manifest
        // An empty state_dict is valid when the manifest describes the model (pooling and
        // activations only); with nothing at all, the file is not a checkpoint.
        guard !entries.isEmpty || manifest?.arch != nil || manifest?.modelConfig != nil else {
            throw CheckpointError.emptyCheckpoint(path: path)
        }

        var storedKeys: [String: String] = [:]
        let prefix = "module."
        if !entries.isEmpty && entries.allSatisfy({ $0.0.hasPrefix(prefix) && $0.0.count > prefix.count }) {
            entries = entries.map { key, tensor in
                let canonical = String(key.dropFirst(prefix.count))
                storedKeys[canonical] = key
                return (canonical, tensor)
            }
            notes.append("stripped the DataParallel 'module.' prefix from every key")
        }

        var stateDict = StateDict(entries)
        let filled = fillMissingBatchCounters(&stateDict)
        if !filled.isEmpty {
            notes.append("added num_batches_tracked = 0 (absent in files from old PyTorch) for: \(filled.joined(separator: ", "))")
        }
        let widened = stateDict.map(\.tensor.dtype).filter { $0 != .float32 && $0.isFloatingPoint }
        if !widened.isEmpty {
            let dtypes = Set(widened.map(\.rawValue)).sorted().joined(separator: ", ")
            notes.append("\(widened.count) tensor(s) stored as \(dtypes); computed in float32")
        }
        var checkpoint = LoadedCheckpoint(
            path: path, stateDict: stateDict, manifest: manifest, referenceCases: raw.referenceCases,
            layoutNotes: notes, storedKeys: storedKeys)
        checkpoint.container = raw.container
        checkpoint.pickleGlobals = raw.pickleGlobals
        checkpoint.metadata = raw.metadata
        checkpoint.evalSet = raw.evalSet
        checkpoint.manifestText = raw.manifestText
        checkpoint.signatureText = raw.signature
        // A .pt2's own program, or the one a converted file keeps in its manifest.
        checkpoint.programText = raw.programText ?? manifest?.program?.serialized()
        checkpoint.sampleInputs = raw.sampleInputs
        return checkpoint
    }

    /// The manifest's JSON exactly as stored, without reading any tensor: HDF5's `__manifest__`
    /// dataset, or safetensors' `__metadata__["zoo_manifest"]`; nil for files without one
    /// (plain exports, torch.save files).
    public static func readManifestText(_ path: String) throws(CheckpointError) -> String? {
        switch FileSniffer.recognise(path) {
        case .other(let what): throw .notACheckpoint(path: path, what: what)
        case .container(.hdf5): return try HDF5CheckpointReader.readManifestText(path)
        case .container(.safetensors): return try SafetensorsReader.readManifestText(path)
        case .container: return nil
        }
    }

    /// Names that start and end with `__` are metadata, never weights.
    public static func isMetadata(_ name: String) -> Bool {
        name.count >= 4 && name.hasPrefix("__") && name.hasSuffix("__")
    }

    /// PyTorch fills a missing `num_batches_tracked` with 0 when loading old files; so do we.
    /// Returns the module prefixes that were filled.
    private static func fillMissingBatchCounters(_ stateDict: inout StateDict) -> [String] {
        var filled: [String] = []
        for key in stateDict.keys where key.hasSuffix("running_var") {
            let modulePrefix = String(key.dropLast("running_var".count))
            guard stateDict[modulePrefix + "running_mean"] != nil,
                stateDict[modulePrefix + "num_batches_tracked"] == nil,
                let position = stateDict.keys.firstIndex(of: key)
            else { continue }
            stateDict.insert(Tensor(zeros: [], dtype: .int64), forKey: modulePrefix + "num_batches_tracked", at: position + 1)
            filled.append(modulePrefix.isEmpty ? "(root)" : String(modulePrefix.dropLast()))
        }
        return filled
    }
}
