import Checkpoint
import JSON
import NN
import Tensor

/// The model a checkpoint is checked against, and how it was chosen.
public struct ResolvedModel {
    public enum Source: String, Sendable {
        /// Named by the caller (`arch:`), over anything the file says.
        case caller = "named by the caller"
        case manifestArch = "manifest arch"
        case modelConfig = "manifest model_config"
        case recognised = "recognised from keys and shapes"
        case program = "the file's torch.export program"
        /// A bare state_dict of a torchvision model, run on the program zoo ships for its family.
        case torchvisionFamily = "recognised as a torchvision family"
    }

    public var model: Module
    public var label: String
    public var source: Source
    public var architecture: Architecture?
    public var arguments: [String: Int]
    /// What the caller should know about the choice: a manifest `arch` zoo does not know,
    /// passed over for what came next.
    public var notes: [String] = []
    /// For a recognised torchvision family: what torchvision's weights say of its pictures and
    /// classes, used when the file says nothing itself.
    public var family: TorchvisionFamily?

    /// The expected per-sample input shape when the registry knows it.
    /// For a torch.export program, the per-sample shape of the example it was exported with.
    public var inputShape: [Int]? {
        if let architecture { return architecture.inputShape(arguments) }
        guard let graph = model as? GraphModule, !graph.program.exampleInputShape.isEmpty else { return nil }
        return Array(graph.program.exampleInputShape.dropFirst())
    }

    /// Loads `checkpoint` strictly (keys, shapes, dtypes; see ``StrictReport``) and checks its
    /// integrity; throws ``StrictLoadError`` naming every problem, loading nothing.
    public func loadStrictly(_ checkpoint: LoadedCheckpoint) throws(StrictLoadError) {
        let integrity = IntegrityReport(checkpoint.stateDict, manifest: checkpoint.manifest, storedKeys: checkpoint.storedKeys)
        let fit = LoadReport(modelName: label, expected: model.expectedTensors, stateDict: checkpoint.stateDict)
        let report = StrictReport(load: fit, integrity: integrity)
        guard report.isClean else { throw StrictLoadError(report: report) }
        do { try model.load(checkpoint.stateDict, modelName: label) } catch {
            throw StrictLoadError(report: report)
        }
    }

    /// True when `input` is one sample of a registry model's input, without the batch axis.
    public func lacksBatchAxis(_ input: Tensor) -> Bool {
        inputShape.map { input.rank == $0.count } ?? false
    }

    /// An eval-mode forward pass. For a registry model given one sample without its batch axis
    /// (rank one less than the model's input), the axis is added for the pass and removed from
    /// the output, so that `(3, 32, 32)` in gives `(10)` out.
    ///
    /// Before anything is computed, the pass's memory is estimated from the shapes and refused
    /// with ``MemoryAdmissionError`` past `memoryLimit` bytes (default: what this process may
    /// still use, see ``MemoryAdmission``).
    public func run(_ input: Tensor, memoryLimit: Int? = nil) throws -> Tensor {
        try runAll(input, memoryLimit: memoryLimit)[0].output
    }

    /// The names of the model's outputs: a program's dict keys (`out`, `aux` for torchvision's
    /// segmentation models), `output_0`, `output_1`, ... for a tuple, `output` for one tensor.
    public var outputNames: [String] {
        guard let graph = model as? GraphModule, graph.program.outputs.count > 1 else { return ["output"] }
        let names = graph.program.outputNames ?? []
        return graph.program.outputs.indices.map { $0 < names.count ? names[$0] : "output_\($0)" }
    }

    /// As ``run(_:memoryLimit:)``, every output of the model (a graph program may return several),
    /// named as ``outputNames``, the first being what `run` returns.
    public func runAll(_ input: Tensor, memoryLimit: Int? = nil) throws -> [(name: String, output: Tensor)] {
        let batched = lacksBatchAxis(input) ? [1] + input.shape : input.shape
        try MemoryAdmission.admit(try MemoryEstimate(model: model, inputShape: batched), limit: memoryLimit)
        let converted = input.converted(to: .float32)
        let x = lacksBatchAxis(input) ? try converted.reshaped(batched) : converted
        InferenceFusion.apply(to: model)
        let outputs = try (model as? GraphModule).map { try $0.forwardAll(x) } ?? [try model(x)]
        return try zip(outputNames, outputs).map { name, output in
            guard lacksBatchAxis(input), output.shape.first == 1 else { return (name, output) }
            return (name, try output.reshaped(Array(output.shape.dropFirst())))
        }
    }
}

/// A state_dict that does not load strictly, or that fails its own integrity checks; the report
/// names every problem.
public struct StrictLoadError: Error, Sendable, CustomStringConvertible {
    public var report: StrictReport
    public var description: String { report.description }
}

public enum ModelResolver {
    /// Picks the model for `checkpoint`: `arch` first, then the manifest's `arch`, then its
    /// `model_config`, then recognition against the registry.
    /// The model a manifest names by itself (`arch` with its `arch_args`, or `model_config`),
    /// without any tensor; nil when it names none.
    public static func resolve(manifest: Manifest) throws -> ResolvedModel? {
        if let name = manifest.arch, let architecture = try? Registry.architecture(named: name) {
            return try fromRegistry(architecture, integerArguments(manifest.archArgs), source: .manifestArch)
        }
        if let config = manifest.modelConfig {
            let model = try ModelConfig.build(config)
            model.eval()
            return ResolvedModel(
                model: model, label: "Sequential from model_config (\(model.children.count) layers)", source: .modelConfig,
                architecture: nil,
                arguments: [:])
        }
        return nil
    }

    ///
    /// `program` is the checkpoint's torch.export program when it was parsed as the file was read
    /// (``FileReading/checkpointAndProgram(at:)``); otherwise the program is parsed from the
    /// checkpoint's `programText`.
    public static func resolve(_ checkpoint: LoadedCheckpoint, arch: String? = nil, program: ParsedProgram? = nil) throws -> ResolvedModel {
        let manifest = checkpoint.manifest
        if let arch {
            let architecture = try Registry.architecture(named: arch)
            var arguments = architecture.inferArguments(from: checkpoint.stateDict) ?? [:]
            if manifest?.arch == architecture.name {
                arguments.merge(integerArguments(manifest?.archArgs ?? [:]), uniquingKeysWith: { _, new in new })
            }
            return try fromRegistry(architecture, arguments, source: .caller)
        }
        var unknownArch: String?
        if let name = manifest?.arch {
            do {
                let architecture = try Registry.architecture(named: name)
                let inferred = architecture.inferArguments(from: checkpoint.stateDict) ?? [:]
                let arguments = inferred.merging(integerArguments(manifest?.archArgs ?? [:]), uniquingKeysWith: { _, declared in declared })
                return try fromRegistry(architecture, arguments, source: .manifestArch)
            } catch ModelZooError.unknownArchitecture {
                unknownArch = name  // Said in the result's notes, not silently skipped.
            }
        }
        var resolved = try resolveWithoutArch(checkpoint, program: program)
        if let unknownArch {
            let instead = resolved.source == .modelConfig ? "built from its model_config" : "recognised from the keys and shapes"
            resolved.notes.append("the manifest's arch '\(unknownArch)' is not in zoo's registry; the model was \(instead) instead")
        }
        return resolved
    }

    /// The model_config, then recognition: what is left when no architecture is named.
    private static func resolveWithoutArch(_ checkpoint: LoadedCheckpoint, program parsed: ParsedProgram?) throws -> ResolvedModel {
        let manifest = checkpoint.manifest
        if let config = manifest?.modelConfig {
            let model = try ModelConfig.build(config)
            model.eval()
            return ResolvedModel(
                model: model, label: "Sequential from model_config (\(model.children.count) layers)", source: .modelConfig,
                architecture: nil, arguments: [:])
        }
        // A torch.export archive carries its own model: the graph it was exported as runs, so that
        // any CNN made of the operators zoo runs needs no Swift code (GraphOperators lists them).
        if let program = try parsed?.get() ?? checkpoint.programText.map(ExportedProgram.init(text:)) {
            let model = try GraphModule(program: program)
            model.eval()
            return ResolvedModel(
                model: model,
                label: "torch.export program (\(program.nodes.count) operator calls"
                    + (program.outputNames.map { "; output '\($0.first ?? "")' of \($0.joined(separator: ", "))" } ?? "") + ")",
                source: .program, architecture: nil,
                arguments: [:])
        }
        let candidate: Candidate
        do { candidate = try Registry.recognise(checkpoint.stateDict) } catch {
            // Not one of zoo's own models: perhaps a torchvision model saved as a bare state_dict.
            guard let family = try? TorchvisionFamily.recognise(checkpoint.stateDict) else { throw error }
            return try fromFamily(family)
        }
        return try fromRegistry(candidate.architecture, candidate.arguments, source: .recognised)
    }

    static func fromFamily(_ family: TorchvisionFamily) throws -> ResolvedModel {
        let model = try GraphModule(program: family.program)
        model.eval()
        var resolved = ResolvedModel(
            model: model, label: "torchvision \(family.name) (zoo's program for the family)", source: .torchvisionFamily,
            architecture: nil, arguments: [:])
        resolved.family = family
        return resolved
    }

    static func fromRegistry(_ architecture: Architecture, _ arguments: [String: Int], source: ResolvedModel.Source) throws -> ResolvedModel
    {
        let resolved = try architecture.resolvedArguments(arguments)
        return ResolvedModel(
            model: try architecture.build(resolved), label: Registry.label(architecture, resolved), source: source,
            architecture: architecture, arguments: resolved)
    }

    private static func integerArguments(_ values: [String: JSONValue]) -> [String: Int] {
        values.compactMapValues(\.intValue)
    }
}
