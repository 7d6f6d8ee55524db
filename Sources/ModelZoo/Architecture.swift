import Checkpoint
import NN
import Tensor

/// One constructor argument of a registry entry, with PyTorch's default.
public struct ArchitectureArgument: Sendable, Equatable {
    public var name: String
    public var defaultValue: Int
    public var summary: String
}

/// A registry entry: how to build a reference model and how to recognise its state_dict.
public struct Architecture: Sendable {
    public var name: String
    /// One line for `zoo list`.
    public var summary: String
    /// Where the definition comes from.
    public var origin: String
    public var arguments: [ArchitectureArgument]
    /// The per-sample input shape (without the batch axis) for the given arguments.
    public var inputShape: @Sendable ([String: Int]) -> [Int]
    /// The input shape as documentation, e.g. `3 x 32 x 32`.
    public var inputDescription: String
    /// Builds the model with all arguments filled.
    let builder: @Sendable ([String: Int]) throws -> Module
    /// Constructor arguments read off a state_dict's shapes; nil when the keys they need are absent.
    let inferrer: @Sendable (StateDict) -> [String: Int]?
    /// How the PyTorch definition initialises a built model: by default every layer's own
    /// `reset_parameters()`; torchvision's ResNet draws its convolutions differently, seed 001
    /// sets its edge kernel afterwards.
    var initialiser: @Sendable (Module, inout SeededGenerator) throws -> Void = { model, generator in
        try model.resetAllParameters(using: &generator)
    }

    /// Initialises `model` (built from this entry) as the PyTorch definition does.
    public func initialise(_ model: Module, generator: inout SeededGenerator) throws {
        try initialiser(model, &generator)
    }

    /// A model built with these arguments and initialised as PyTorch initialises it, from `seed`.
    /// Its weights are refused with ``MemoryAdmissionError`` before they are drawn when they, and
    /// a pass on one sample, would not fit.
    public func initialisedModel(_ given: [String: Int] = [:], seed: UInt64) throws -> Module {
        let model = try build(given)
        try MemoryAdmission.admit(try MemoryEstimate(model: model, inputShape: [1] + inputShape(try resolvedArguments(given))))
        var generator = SeededGenerator(seed: seed)
        try initialise(model, generator: &generator)
        model.eval()
        return model
    }

    /// `arguments` with defaults filled in for everything not given.
    public func resolvedArguments(_ given: [String: Int]) throws -> [String: Int] {
        var values: [String: Int] = [:]
        for argument in arguments { values[argument.name] = given[argument.name] ?? argument.defaultValue }
        if let unknown = given.keys.sorted().first(where: { key in !arguments.contains { $0.name == key } }) {
            throw ModelZooError.unknownArgument(arch: name, argument: unknown, known: arguments.map(\.name))
        }
        return values
    }

    /// A fresh model (eval mode, zero weights until loaded or initialised).
    public func build(_ given: [String: Int] = [:]) throws -> Module {
        let model = try builder(try resolvedArguments(given))
        model.eval()
        return model
    }

    /// The arguments this state_dict implies, defaults for the rest.
    public func inferArguments(from stateDict: StateDict) -> [String: Int]? {
        guard let inferred = inferrer(stateDict) else { return nil }
        return try? resolvedArguments(inferred)
    }

    /// Keys, shapes and dtypes of the state_dict for these arguments.
    public func expectedTensors(_ given: [String: Int] = [:]) throws -> [ExpectedTensor] {
        try build(given).expectedTensors
    }
}

/// Why the registry could not do what was asked. Recognition failures carry the registry's
/// nearest candidates as values, so that reports (and `--json`) can list them.
public enum ModelZooError: Error, Sendable, CustomStringConvertible {
    case unknownArchitecture(String, known: [String])
    case unknownArgument(arch: String, argument: String, known: [String])
    /// Several registry entries match the keys and shapes exactly.
    case ambiguous(matches: [Candidate])
    /// No registry entry matches; `nearest` are the closest, best first.
    case unrecognised(keyCount: Int, nearest: [Candidate])
    /// A zoo folder that does not exist or cannot be listed.
    case unreadableFolder(String, reason: String)
    /// A registry entry cannot be built: a bug in zoo, reported rather than hidden.
    case invalidRegistry(String)

    /// The registry entries the failure is about: the exact matches or the nearest.
    public var candidates: [Candidate] {
        switch self {
        case .ambiguous(let matches): return matches
        case .unrecognised(_, let nearest): return nearest
        default: return []
        }
    }

    public var description: String {
        switch self {
        case .unknownArchitecture(let name, let known):
            return "unknown architecture '\(name)'; known: \(known.joined(separator: ", "))"
        case .unknownArgument(let arch, let argument, let known):
            return "\(arch) has no argument '\(argument)'; it takes: \(known.isEmpty ? "none" : known.joined(separator: ", "))"
        // Which of them to choose, and how, is the caller's to say: the command line names its flag.
        case .ambiguous(let matches):
            return "the keys and shapes match several architectures: \(matches.map(\.label).joined(separator: ", "))"
        case .unrecognised(let keyCount, let nearest):
            let lines = nearest.map { "  \($0.label): \($0.differences)" }.joined(separator: "\n")
            return "no architecture in the registry matches these \(keyCount) keys (the nearest follow)\n\(lines)"
        case .unreadableFolder(let folder, let reason): return "cannot list \(folder): \(reason)"
        case .invalidRegistry(let reason): return "the registry cannot build a model: \(reason)"
        }
    }
}
