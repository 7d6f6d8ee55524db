import Tensor

/// A layer or a container of layers, as PyTorch's `nn.Module`.
///
/// Subclasses own their state and its initialisation: they list their parameters and buffers in
/// ``localState`` (named as PyTorch names them, so that ``stateDict(prefix:)`` yields the keys
/// `model.state_dict()` yields: `features.0.weight`, BatchNorm's `running_mean`, ...), accept
/// replacements in ``setLocalState(_:to:)``, draw their PyTorch initialisation in
/// ``resetParameters(using:)``, and compute in ``forward(_:)``.
open class Module {
    /// Train mode (true, as PyTorch builds modules) or eval mode (false); affects BatchNorm and
    /// Dropout. Set it for a whole model with ``train(_:)`` or ``eval()``.
    public var isTraining = true

    public init() {}

    /// The PyTorch class name, e.g. `Conv2d`: the Swift class's name.
    public var typeName: String { String(describing: type(of: self)) }

    /// This module's own parameters and buffers, in PyTorch's registration order.
    open var localState: [(name: String, tensor: Tensor)] { [] }

    /// The names, shapes and dtypes of ``localState``, which layers override to answer without
    /// making the tensors (strict loading needs only these).
    open var localStateLayout: [(name: String, shape: [Int], dtype: DType)] {
        localState.map { ($0.name, $0.tensor.shape, $0.tensor.dtype) }
    }

    /// Replaces one of this module's own tensors; the shape must match.
    open func setLocalState(_ name: String, to tensor: Tensor) throws {
        throw NNError.unknownStateKey(key: name)
    }

    /// Direct submodules with their attribute names.
    open var children: [(name: String, module: Module)] { [] }

    /// Sets this module's own parameters and buffers as PyTorch's constructor does (its
    /// `reset_parameters()`), drawing random values from `generator`. Modules without state do nothing.
    open func resetParameters(using generator: inout SeededGenerator) throws {}

    /// Runs the module on `input`.
    open func forward(_ input: Tensor) throws -> Tensor {
        throw NNError.invalidArgument(layer: typeName, argument: "forward", reason: "this module does not define forward")
    }

    public func callAsFunction(_ input: Tensor) throws -> Tensor { try forward(input) }
}

extension Module {
    /// Every parameter and buffer with its full key, in PyTorch's `state_dict()` order.
    public func stateDict(prefix: String = "") -> StateDict {
        var entries = StateDict()
        appendState(prefix: prefix, to: &entries)
        return entries
    }

    private func appendState(prefix: String, to entries: inout StateDict) {
        for (name, tensor) in localState { entries[prefix + name] = tensor }
        for (name, child) in children { child.appendState(prefix: prefix + name + ".", to: &entries) }
    }

    /// This module and every submodule, depth first, parents before children (`model.modules()`).
    public var modules: [Module] {
        [self] + children.flatMap { $0.module.modules }
    }

    /// Initialises every module as PyTorch's constructors do, parents before children, all from
    /// one generator: the same seed gives the same model.
    public func resetAllParameters(using generator: inout SeededGenerator) throws {
        for module in modules { try module.resetParameters(using: &generator) }
    }

    /// Sets train (true) or eval (false) mode on this module and every submodule.
    public func train(_ mode: Bool = true) {
        for module in modules { module.isTraining = mode }
    }

    /// Eval mode, as PyTorch's `model.eval()`.
    public func eval() { train(false) }

    /// Number of parameters (not buffers), as `sum(p.numel() for p in model.parameters())`.
    public var parameterCount: Int {
        expectedTensors.reduce(0) { total, entry in
            let name = entry.key.split(separator: ".").last.map(String.init) ?? entry.key
            let isBuffer = ["running_mean", "running_var", "num_batches_tracked"].contains(name)
            return total + (isBuffer ? 0 : entry.shape.reduce(1, *))
        }
    }
}

/// Checks a replacement tensor against the slot it fills.
func requireShape(_ tensor: Tensor, _ shape: [Int], key: String) throws {
    guard tensor.shape == shape else { throw NNError.stateShape(key: key, expected: shape, got: tensor.shape) }
}

extension Module {
    /// Sets ``ConvolutionKernels/keepsPreparedWeights`` on every convolution in the model: false
    /// bounds the model's memory to its own tensors (plus one layer's reordered weights during its
    /// call).
    public func keepPreparedConvolutionWeights(_ keep: Bool) {
        for case let layer as any ConvolutionKernelChoosing in modules { layer.kernels.keepsPreparedWeights = keep }
    }
}
