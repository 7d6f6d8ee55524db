/// Why a layer could not be built, loaded or run. Each case names the layer and what differs.
public enum NNError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidArgument(layer: String, argument: String, reason: String)
    case unknownLayerType(type: String, index: Int)
    case unknownArgument(layer: String, argument: String, index: Int)
    case invalidConfig(reason: String)
    case inputShape(layer: String, expected: String, got: [Int])
    case stateShape(key: String, expected: [Int], got: [Int])
    case unknownStateKey(key: String)
    case training(layer: String, reason: String)
    /// A torch.export program zoo cannot read (a missing field, an input kind it does not run).
    case invalidProgram(reason: String)
    /// A program calls an operator zoo does not implement; `node` is the graph's name for the call.
    case unsupportedOperator(target: String, node: String)

    public var description: String {
        switch self {
        case .invalidArgument(let layer, let argument, let reason):
            return "\(layer): invalid \(argument): \(reason)"
        case .unknownLayerType(let type, let index):
            return "model_config layer \(index): unknown layer type '\(type)'"
        case .unknownArgument(let layer, let argument, let index):
            return "model_config layer \(index) (\(layer)): unknown argument '\(argument)'"
        case .invalidConfig(let reason):
            return "invalid model_config: \(reason)"
        case .inputShape(let layer, let expected, let got):
            return "\(layer): expected input \(expected), got shape \(got)"
        case .stateShape(let key, let expected, let got):
            return "\(key): expected shape \(expected), got \(got)"
        case .unknownStateKey(let key):
            return "no parameter or buffer named '\(key)'"
        case .training(let layer, let reason):
            return "\(layer): \(reason)"
        case .invalidProgram(let reason):
            return "invalid torch.export program: \(reason)"
        case .unsupportedOperator(let target, let node):
            return "the program calls \(target) (node '\(node)'), which zoo does not run"
        }
    }
}
