import Foundation
import HDF5
import Tensor

/// zoo's home format and every layout Python users write with h5py: flat dotted names, nested
/// groups, one wrapper group, float16/float64/bfloat16 storage.
enum HDF5CheckpointReader: CheckpointContainerReader {
    static let container = CheckpointContainer.hdf5
    /// Groups that hold the whole state_dict when a training script saved a dict around it.
    static let wrapperGroupNames = ["state_dict", "model_state_dict", "model"]

    static func read(_ path: String, sink: TensorSink) throws(CheckpointError) -> RawCheckpoint {
        do {
            return try readFile(path, sink: sink)
        } catch let error as CheckpointError {
            throw error
        } catch let error as HDF5Error {
            throw .hdf5(path: path, underlying: error)
        } catch {
            throw .hdf5(path: path, underlying: HDF5Error(operation: "read checkpoint", path: path, message: "\(error)"))
        }
    }

    static func readManifestText(_ path: String) throws(CheckpointError) -> String? {
        do {
            let root = try HDF5File.openReadOnly(path).rootGroup()
            guard try root.members().contains(where: { $0.name == "__manifest__" && $0.kind == .dataset }) else { return nil }
            return try root.openDataset("__manifest__").readString()
        } catch let error as HDF5Error {
            throw .hdf5(path: path, underlying: error)
        } catch {
            throw .hdf5(path: path, underlying: HDF5Error(operation: "read manifest", path: path, message: "\(error)"))
        }
    }

    private static func readFile(_ path: String, sink: TensorSink) throws -> RawCheckpoint {
        let file = try HDF5File.openReadOnly(path)
        let root = try file.rootGroup()
        let rootMembers = try root.members()
        var notes: [String] = []

        var manifest: Manifest?
        var manifestText: String?
        if rootMembers.contains(where: { $0.name == "__manifest__" && $0.kind == .dataset }) {
            let text = try root.openDataset("__manifest__").readString()
            manifest = try Manifest(json: text, path: path)
            manifestText = text
            sink.expectChecksums()
        }
        var signature: String?
        if rootMembers.contains(where: { $0.name == SignatureRecord.datasetName && $0.kind == .dataset }) {
            signature = try root.openDataset(SignatureRecord.datasetName).readString()
        }
        var referenceCases: [ReferenceCase] = []
        if rootMembers.contains(where: { $0.name == "__tests__" && $0.kind == .group }) {
            referenceCases = try ReferenceVectorIO.read(try root.openGroup("__tests__"), path: path)
        }
        var sampleInputs: [Tensor] = []
        if rootMembers.contains(where: { $0.name == SampleInputsIO.groupName && $0.kind == .group }) {
            sampleInputs = try SampleInputsIO.read(try root.openGroup(SampleInputsIO.groupName), path: path)
        }

        let weightMembers = rootMembers.lazy.filter { !CheckpointReader.isMetadata($0.name) }
        // The root's listing serves the state_dict's when the weights are at the root: a second
        // listing of 20,000 datasets held its names and members again (3 MiB) while they were read.
        var stateDict: (group: HDF5Group, members: [HDF5Member]?) = (root, rootMembers)
        // A wrapper is the only group at the root, beside no dotted weight names: otherwise a
        // group called `model` is a submodule of a nested export, not a wrapper.
        let rootGroups = weightMembers.filter { $0.kind == .group }.map(\.name)
        if rootGroups.count == 1, let wrapper = rootGroups.first, wrapperGroupNames.contains(wrapper),
            !weightMembers.contains(where: { $0.kind == .dataset && $0.name.contains(".") })
        {
            stateDict = (try root.openGroup(wrapper), nil)
            notes.append("read the state_dict from the wrapper group '\(wrapper)'")
            let ignored = weightMembers.filter { $0.name != wrapper }.map(\.name)
            if !ignored.isEmpty { notes.append("ignored root entries outside '\(wrapper)': \(ignored.joined(separator: ", "))") }
        }
        let trainingState = rootMembers.contains { $0.name == TrainingState.key && $0.kind == .dataset }
        let evalSet = rootMembers.contains { $0.name == EvalSetIO.groupName && $0.kind == .group }

        var entries: [(String, Tensor)] = []
        var sawNestedGroups = false
        try collect(
            stateDict.group, members: stateDict.members, prefix: "", into: &entries, sink: sink, sawGroups: &sawNestedGroups, path: path)
        if sawNestedGroups { notes.append("joined nested groups into dotted keys") }
        var raw = RawCheckpoint(
            container: Self.container, entries: entries, manifest: manifest, referenceCases: referenceCases, notes: notes)
        raw.manifestText = manifestText
        raw.signature = signature
        raw.sampleInputs = sampleInputs
        if trainingState {
            raw.metadata[TrainingState.key] = try root.openDataset(TrainingState.key).readString()
        }
        if evalSet {
            raw.evalSet = try EvalSetIO.read(try root.openGroup(EvalSetIO.groupName), path: path)
        }
        return raw
    }

    /// Nested groups deeper than this are refused: state_dict keys have a handful of parts.
    static let maximumDepth = 64

    /// Reads every dataset under `group` (whose listing is `members` when the caller has it).
    private static func collect(
        _ group: HDF5Group, members listed: [HDF5Member]? = nil, prefix: String, into entries: inout [(String, Tensor)],
        sink: TensorSink, sawGroups: inout Bool, path: String, depth: Int = 0
    ) throws {
        guard depth < maximumDepth else {
            throw CheckpointError.invalidTensor(
                path: path, key: prefix, reason: "groups nest deeper than \(maximumDepth) levels; the file is damaged or crafted")
        }
        let members = try listed ?? group.members()
        // The root's count at once (a nested group's would make each group regrow the list).
        if depth == 0 { entries.reserveCapacity(members.count) }
        // Many datasets are read with a small metadata cache (see withMetadataCacheLimited): for
        // 20,000 tensors of 1 KiB it held 18 MiB of decoded object headers, against 20 of values;
        // at 256 KiB still 2 MiB. Opened by address, each header is read once, so 32 KiB is as fast.
        let datasets = members.count { $0.kind == .dataset && $0.address != nil }
        try group.withMetadataCacheLimited(to: datasets >= 1024 ? 32 << 10 : Int.max) {
            for member in members where !CheckpointReader.isMetadata(member.name) {
                let key = prefix + member.name
                switch member.kind {
                case .group:
                    sawGroups = true
                    try collect(
                        try group.openGroup(member.name), prefix: key + ".", into: &entries, sink: sink, sawGroups: &sawGroups,
                        path: path, depth: depth + 1)
                case .dataset:
                    entries.append((key, sink.take(try TensorIO.read(try group.openDataset(member), key: key, path: path), key: key)))
                case .other:
                    throw CheckpointError.unsupportedElementType(path: path, key: key, found: "a link that is neither group nor dataset")
                }
            }
        }
    }

}
