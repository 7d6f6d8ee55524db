import Checkpoint

public enum Importer {
    /// Re-writes a verified checkpoint as canonical v1: manifest (unknown fields kept, arch and
    /// arguments filled in when the registry resolved it), checksums and reference vectors.
    public static func importCheckpoint(_ report: VerificationReport, to path: String) throws(CheckpointError) {
        let checkpoint = report.checkpoint
        var manifest = checkpoint.manifest ?? Manifest()
        if let resolved = report.resolved, let architecture = resolved.architecture {
            manifest.arch = architecture.name
            manifest.archArgs = resolved.arguments.mapValues { .int(Int64($0)) }
        }
        manifest.producer = "zoo import" + (checkpoint.manifest?.producer.map { " (from \($0))" } ?? "")
        try CheckpointWriter.write(
            checkpoint.stateDict, manifest: manifest, referenceCases: checkpoint.referenceCases, evalSet: checkpoint.evalSet, to: path)
    }
}
