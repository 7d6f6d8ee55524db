import Checkpoint
import JSON
import NN
import Tensor

/// The model a checkpoint is checked against, and how it was chosen.
public struct ResolvedModel {
    public enum Source: String, Sendable {
        case flag = "--arch"
        case manifestArch = "manifest arch"
        case modelConfig = "manifest model_config"
        case recognised = "recognised from keys and shapes"
    }

    public var model: any Module
    public var label: String
    public var source: Source
    public var architecture: Architecture?
    public var arguments: [String: Int]

    /// The expected per-sample input shape when the registry knows it.
    public var inputShape: [Int]? { architecture.map { $0.inputShape(arguments) } }
}

public enum ModelResolver {
    /// Picks the model for `checkpoint`: `--arch` first, then the manifest's `arch`, then its
    /// `model_config`, then recognition against the registry.
    public static func resolve(_ checkpoint: LoadedCheckpoint, arch: String? = nil) throws -> ResolvedModel {
        let manifest = checkpoint.manifest
        if let arch {
            let architecture = try Registry.architecture(named: arch)
            var arguments = architecture.inferArguments(from: checkpoint.stateDict) ?? [:]
            if manifest?.arch == architecture.name { arguments.merge(integerArguments(manifest?.archArgs ?? [:]), uniquingKeysWith: { _, new in new }) }
            return try fromRegistry(architecture, arguments, source: .flag)
        }
        if let name = manifest?.arch, let architecture = try? Registry.architecture(named: name) {
            let inferred = architecture.inferArguments(from: checkpoint.stateDict) ?? [:]
            let arguments = inferred.merging(integerArguments(manifest?.archArgs ?? [:]), uniquingKeysWith: { _, declared in declared })
            return try fromRegistry(architecture, arguments, source: .manifestArch)
        }
        if let config = manifest?.modelConfig {
            let model = try ModelConfig.build(config)
            model.eval()
            return ResolvedModel(model: model, label: "Sequential from model_config (\(model.children.count) layers)", source: .modelConfig, architecture: nil, arguments: [:])
        }
        let candidate = try Registry.recognise(checkpoint.stateDict)
        return try fromRegistry(candidate.architecture, candidate.arguments, source: .recognised)
    }

    static func fromRegistry(_ architecture: Architecture, _ arguments: [String: Int], source: ResolvedModel.Source) throws -> ResolvedModel {
        let resolved = try architecture.resolvedArguments(arguments)
        return ResolvedModel(
            model: try architecture.build(resolved), label: Registry.label(architecture, resolved), source: source,
            architecture: architecture, arguments: resolved)
    }

    private static func integerArguments(_ values: [String: JSONValue]) -> [String: Int] {
        values.compactMapValues(\.intValue)
    }
}
