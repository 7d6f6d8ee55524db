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
    let builder: @Sendable ([String: Int]) throws -> any Module
    /// Constructor arguments read off a state_dict's shapes; nil when the keys they need are absent.
    let inferrer: @Sendable (StateDict) -> [String: Int]?
    /// How the PyTorch definition initialises its weights on construction.
    var initialisation: Initializer.Scheme = .pytorchDefault
    /// Weights the definition sets by hand after initialising (seed 001's edge kernel).
    var fixedWeights: (@Sendable (any Module) throws -> Void)? = nil

    /// Initialises `model` (built from this entry) as the PyTorch definition does.
    public func initialise(_ model: any Module, generator: inout SeededGenerator) throws {
        try Initializer.initialise(model, scheme: initialisation, generator: &generator)
        try fixedWeights?(model)
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
    public func build(_ given: [String: Int] = [:]) throws -> any Module {
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

/// Why the registry could not do what was asked.
public enum ModelZooError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownArchitecture(String, known: [String])
    case unknownArgument(arch: String, argument: String, known: [String])
    case unrecognised(String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case .unknownArchitecture(let name, let known):
            return "unknown architecture '\(name)'; known: \(known.joined(separator: ", "))"
        case .unknownArgument(let arch, let argument, let known):
            return "\(arch) has no argument '\(argument)'; it takes: \(known.isEmpty ? "none" : known.joined(separator: ", "))"
        case .unrecognised(let reason): return reason
        case .invalidInput(let reason): return reason
        }
    }
}
