import Checkpoint
import Foundation
import JSON
import Tensor

/// A checkpoint found in a zoo folder, summarised for `zoo list`.
public struct ZooEntry: Sendable, Encodable {
    public var path: String
    public var arch: String?
    public var parameterCount: Int?
    public var byteCount: Int
    public var sha256: String
    /// Why the file could not be summarised, when it could not: the line printed.
    public var problem: String?
    /// The same, as the value thrown.
    public var failure: (any Error & Sendable)?
    /// What a trained checkpoint's manifest says it achieves; nil for untrained ones.
    public var metrics: [String: JSONValue]?

    /// "accuracy 0.9722", "reconstruction_mse 0.00019": the first numeric metric, or nil.
    public var metricSummary: String? {
        guard let metrics else { return nil }
        if let accuracy = metrics["accuracy"]?.doubleValue { return "accuracy \(EvaluationResult.format(accuracy))" }
        let preferred = ["reconstruction_mse", "mse", "loss"].compactMap { name in metrics[name].map { (key: name, value: $0) } }
        let numeric = metrics.sorted(by: { $0.key < $1.key }).filter { !["epochs", "eval_images"].contains($0.key) }
        guard let (name, value) = (preferred + numeric).first(where: { $0.value.doubleValue != nil }) else { return "trained" }
        return "\(name) \(String(format: "%.3g", value.doubleValue ?? 0))"
    }

    private enum CodingKeys: String, CodingKey {
        case path, arch, parameterCount = "parameters", byteCount = "bytes", sha256, problem, metrics
    }
}

/// A registry entry summarised for `zoo list`.
public struct ArchitectureSummary: Sendable, Encodable {
    public var name: String
    public var summary: String
    public var origin: String
    public var input: String
    public var parameters: Int
    public var keys: Int
    /// Constructor arguments with their defaults.
    public var arguments: [String: Int]
    /// The same in declaration order, for tables.
    public var orderedArguments: [(name: String, defaultValue: Int)] {
        argumentOrder.compactMap { name in arguments[name].map { (name, $0) } }
    }
    private var argumentOrder: [String]

    init(_ architecture: Architecture) throws {
        let model = try architecture.build()
        name = architecture.name
        summary = architecture.summary
        origin = architecture.origin
        input = architecture.inputDescription
        parameters = model.parameterCount
        keys = model.stateDict().count
        arguments = Dictionary(uniqueKeysWithValues: architecture.arguments.map { ($0.name, $0.defaultValue) })
        argumentOrder = architecture.arguments.map(\.name)
    }

    private enum CodingKeys: String, CodingKey { case name, summary, origin, input, parameters, keys, arguments }
}

/// What `zoo list` shows: the registry and the checkpoints in a folder.
public struct ZooListing: Sendable, Encodable {
    public var folder: String
    public var architectures: [ArchitectureSummary]
    public var checkpoints: [ZooEntry]

    /// The registry, and every `.h5` file directly in `folder`, sorted by name. Throws when the
    /// folder is missing or unreadable: an empty listing would hide a mistyped path. A file whose
    /// manifest names its model is summarised from the manifest alone (`readManifest`), no tensor
    /// decoded; others are read whole (`read`). Both run in process by default; the command line
    /// contains them in a child.
    public init(
        folder: String,
        readManifest: @Sendable (String) throws -> String? = { try CheckpointReader.readManifestText($0) },
        read: @Sendable (String) throws -> LoadedCheckpoint = { try CheckpointReader.read($0) }
    ) throws(ModelZooError) {
        self.folder = folder
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            var isFolder: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder)
            throw .unreadableFolder(folder, reason: !exists ? "no such folder" : !isFolder.boolValue ? "not a folder" : "cannot be read")
        }
        do { architectures = try Registry.all.map(ArchitectureSummary.init) } catch {
            throw .invalidRegistry("\(error)")
        }
        let paths = names.filter { $0.hasSuffix(".h5") }.sorted().map { (folder as NSString).appendingPathComponent($0) }
        checkpoints = mapInParallel(paths) { ZooListing.summarise($0, readManifest: readManifest, read: read) }
    }

    private static func summarise(
        _ path: String, readManifest: (String) throws -> String?, read: (String) throws -> LoadedCheckpoint
    ) -> ZooEntry {
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        var entry = ZooEntry(path: path, byteCount: size, sha256: sha256Hex(ofFileAt: path) ?? "")
        do {
            if let text = try readManifest(path), let manifest = try? Manifest(json: text, path: path),
                let resolved = try ModelResolver.resolve(manifest: manifest)
            {
                entry.arch = resolved.label
                entry.parameterCount = resolved.model.parameterCount
                entry.metrics = manifest.metrics
                return entry
            }
            let checkpoint = try read(path)
            let resolved = try ModelResolver.resolve(checkpoint)
            entry.arch = resolved.label
            entry.parameterCount = resolved.model.parameterCount
            entry.metrics = checkpoint.manifest?.metrics
        } catch {
            entry.problem = "\(error)"
            entry.failure = error
        }
        return entry
    }

    private enum CodingKeys: String, CodingKey { case architectures, checkpoints }
}
