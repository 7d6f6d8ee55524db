import Foundation
import HDF5
import Tensor

/// Reads every layout Python users produce and normalises it to canonical v1 keys:
/// flat dotted names, nested groups, one wrapper group, a DataParallel `module.` prefix,
/// float16/float64/bfloat16 storage, and BatchNorm without `num_batches_tracked`.
public enum CheckpointReader {
    /// Groups that hold the whole state_dict when a training script saved a dict around it.
    public static let wrapperGroupNames = ["state_dict", "model_state_dict", "model"]

    public static func read(_ path: String) throws(CheckpointError) -> LoadedCheckpoint {
        do {
            return try readHDF5(path)
        } catch let error as CheckpointError {
            throw error
        } catch let error as HDF5Error {
            if let what = FileSniffer.describeNonHDF5(path) { throw .notHDF5(path: path, what: what) }
            throw .hdf5(path: path, underlying: error)
        } catch {
            throw .hdf5(path: path, underlying: HDF5Error(operation: "read checkpoint", path: path, message: "\(error)"))
        }
    }

    private static func readHDF5(_ path: String) throws -> LoadedCheckpoint {
        if let what = FileSniffer.describeNonHDF5(path) { throw CheckpointError.notHDF5(path: path, what: what) }
        let file = try HDF5File.openReadOnly(path)
        let root = try file.rootGroup()
        let rootMembers = try root.members()
        var notes: [String] = []

        var manifest: Manifest?
        if rootMembers.contains(where: { $0.name == "__manifest__" && $0.kind == .dataset }) {
            manifest = try Manifest(json: root.openDataset("__manifest__").readString(), path: path)
        }
        var referenceCases: [ReferenceCase] = []
        if rootMembers.contains(where: { $0.name == "__tests__" && $0.kind == .group }) {
            referenceCases = try ReferenceVectorIO.read(try root.openGroup("__tests__"), path: path)
        }

        let weightMembers = rootMembers.filter { !isMetadata($0.name) }
        var container = root
        // A wrapper is the only group at the root, beside no dotted weight names: otherwise a
        // group called `model` is a submodule of a nested export, not a wrapper.
        let rootGroups = weightMembers.filter { $0.kind == .group }.map(\.name)
        if rootGroups.count == 1, let wrapper = rootGroups.first, wrapperGroupNames.contains(wrapper),
            !weightMembers.contains(where: { $0.kind == .dataset && $0.name.contains(".") })
        {
            container = try root.openGroup(wrapper)
            notes.append("read the state_dict from the wrapper group '\(wrapper)'")
            let ignored = weightMembers.filter { $0.name != wrapper }.map(\.name)
            if !ignored.isEmpty { notes.append("ignored root entries outside '\(wrapper)': \(ignored.joined(separator: ", "))") }
        }

        var entries: [(String, Tensor)] = []
        var sawNestedGroups = false
        try collect(container, prefix: "", into: &entries, sawGroups: &sawNestedGroups, path: path)
        if sawNestedGroups { notes.append("joined nested groups into dotted keys") }
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
        return LoadedCheckpoint(
            path: path, stateDict: stateDict, manifest: manifest, referenceCases: referenceCases,
            layoutNotes: notes, storedKeys: storedKeys)
    }

    /// Names that start and end with `__` are metadata, never weights.
    public static func isMetadata(_ name: String) -> Bool {
        name.count >= 4 && name.hasPrefix("__") && name.hasSuffix("__")
    }

    private static func collect(
        _ group: HDF5Group, prefix: String, into entries: inout [(String, Tensor)], sawGroups: inout Bool, path: String
    ) throws {
        for member in try group.members() where !isMetadata(member.name) {
            let key = prefix + member.name
            switch member.kind {
            case .group:
                sawGroups = true
                try collect(try group.openGroup(member.name), prefix: key + ".", into: &entries, sawGroups: &sawGroups, path: path)
            case .dataset:
                entries.append((key, try TensorIO.read(try group.openDataset(member.name), key: key, path: path)))
            case .other:
                throw CheckpointError.unsupportedElementType(path: path, key: key, found: "a link that is neither group nor dataset")
            }
        }
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
