import Foundation
import HDF5
import Tensor

/// Writes canonical format v1: one root dataset per key in state_dict order, a `__manifest__`
/// with a record and SHA-256 for every tensor, and `__tests__` when reference cases are given.
/// Or the same content as safetensors: the manifest and reference vectors in `__metadata__`.
///
/// Writes are atomic: the file is built under a temporary name in the target's folder, flushed
/// and synced, then renamed over the target, so a crash never leaves a half-written file under
/// the target name and never destroys the previous one.
public enum CheckpointWriter {
    public static func write(
        _ stateDict: StateDict, manifest: Manifest = Manifest(), referenceCases: [ReferenceCase] = [],
        evalSet: EvalSet? = nil, signature: String? = nil, to path: String, format: CheckpointContainer = .hdf5,
        metadata: [String: String] = [:], training: TrainingState? = nil, sampleInputs: [Tensor] = []
    ) throws(CheckpointError) {
        for key in stateDict.keys {
            if key.isEmpty || key.contains("/") {
                throw .invalidKey(key: key, reason: "HDF5 names cannot be empty or contain '/'")
            }
            if CheckpointReader.isMetadata(key) {
                throw .invalidKey(key: key, reason: "names that start and end with '__' are reserved for metadata")
            }
        }
        let manifest = canonicalManifest(manifest, for: stateDict)

        switch format {
        case .hdf5:
            let image: [UInt8]
            do {
                image = try fileImage(
                    stateDict, manifest: manifest, referenceCases: referenceCases, evalSet: evalSet, signature: signature,
                    training: training, sampleInputs: sampleInputs, name: path)
            } catch {
                throw .writeFailed(path: path, reason: "\(error)")
            }
            try AtomicFile.replace(path) { temporary in try AtomicFile.writeAll(image, to: temporary) }
        case .safetensors:
            var metadata = metadata
            if let training { metadata[TrainingState.key] = training.json.serialized() }
            if !sampleInputs.isEmpty { metadata[SampleInputsIO.metadataKey] = SampleInputsIO.encode(sampleInputs) }
            try SafetensorsWriter.write(
                stateDict, manifest: manifest, referenceCases: referenceCases, evalSet: evalSet, signature: signature,
                extraMetadata: metadata, to: path)
        case .pt2:
            guard let program = manifest.program else {
                throw .writeFailed(
                    path: path,
                    reason: "a .pt2 archive is a torch.export program with its weights, and this checkpoint carries no program "
                        + "(it has one when it was read from a .pt2 or saved by zoo_h5.save with an example input)")
            }
            try PT2Writer.write(stateDict, program: program, sampleInput: sampleInputs.first ?? referenceCases.first?.input, to: path)
        case .torchZip, .torchLegacy:
            throw .writeFailed(path: path, reason: "zoo writes HDF5 (.h5), safetensors (.safetensors) and .pt2, not torch.save files")
        }
    }

    /// The manifest as written for `stateDict`: the current format version and a record with a
    /// SHA-256 for every tensor. Its `json.serialized()` is the exact text stored.
    public static func canonicalManifest(_ manifest: Manifest, for stateDict: StateDict) -> Manifest {
        var manifest = manifest
        manifest.formatVersion = Manifest.currentVersion
        manifest.tensors = [:]
        for (key, tensor) in stateDict { manifest.tensors[key] = TensorRecord(describing: tensor) }
        return manifest
    }

    /// The format a path's extension asks for: `.safetensors`, `.pt2`, else HDF5 format v1.
    public static func format(forPath path: String) -> CheckpointContainer {
        let lowered = path.lowercased()
        if lowered.hasSuffix(".safetensors") { return .safetensors }
        return lowered.hasSuffix(".pt2") ? .pt2 : .hdf5
    }

    /// The file's bytes, built in memory: libhdf5 never writes to the disk, so that a full disk
    /// is a failed write of bytes that zoo reports (libhdf5 1.10.8 faults on exit after a failed
    /// write of its own). Every status is checked; the groups and datasets are released (inner
    /// scope) before the image is taken and the file closed.
    private static func fileImage(
        _ stateDict: StateDict, manifest: Manifest, referenceCases: [ReferenceCase], evalSet: EvalSet?, signature: String?,
        training: TrainingState?, sampleInputs: [Tensor], name: String
    ) throws -> [UInt8] {
        let file = try HDF5File.createInMemory(name: name, expectedBytes: stateDict.byteCount)
        try {
            let root = try file.rootGroup()
            for (key, tensor) in stateDict {
                try TensorIO.write(tensor, key: key, into: root)
            }
            try root.createStringDataset("__manifest__", value: manifest.json.serialized())
            try ReferenceVectorIO.write(referenceCases, into: root)
            if let evalSet { try EvalSetIO.write(evalSet, into: root) }
            try SampleInputsIO.write(sampleInputs, into: root)
            if let signature { try root.createStringDataset(SignatureRecord.datasetName, value: signature) }
            if let training { try root.createStringDataset(TrainingState.key, value: training.json.serialized()) }
        }()
        let image = try file.image()
        try file.close()
        return image
    }
}
