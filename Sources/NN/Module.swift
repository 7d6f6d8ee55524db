import Tensor

/// A layer or a container of layers, as PyTorch's `nn.Module`.
///
/// State (parameters, then buffers) is named as PyTorch names it, so ``stateDict()`` yields the
/// keys `model.state_dict()` yields: `features.0.weight`, BatchNorm's `running_mean`, ...
public protocol Module: AnyObject {
    /// The PyTorch class name, e.g. `Conv2d`.
    var typeName: String { get }
    /// This module's own parameters and buffers, in PyTorch's registration order.
    var localState: [(name: String, tensor: Tensor)] { get }
    /// Replaces one of this module's own tensors; the shape must match.
    func setLocalState(_ name: String, to tensor: Tensor) throws
    /// Direct submodules with their attribute names.
    var children: [(name: String, module: any Module)] { get }
    /// Train mode (true) or eval mode (false); affects BatchNorm and Dropout.
    var isTraining: Bool { get set }
    /// Runs the module on `input`.
    func forward(_ input: Tensor) throws -> Tensor
}

extension Module {
    public var localState: [(name: String, tensor: Tensor)] { [] }
    public func setLocalState(_ name: String, to tensor: Tensor) throws { throw NNError.unknownStateKey(key: name) }
    public var children: [(name: String, module: any Module)] { [] }

    public func callAsFunction(_ input: Tensor) throws -> Tensor { try forward(input) }

    /// Every parameter and buffer with its full key, in PyTorch's `state_dict()` order.
    public func stateDict(prefix: String = "") -> [(key: String, tensor: Tensor)] {
        var entries = localState.map { (key: prefix + $0.name, tensor: $0.tensor) }
        for (name, child) in children {
            entries += child.stateDict(prefix: prefix + name + ".")
        }
        return entries
    }

    /// Loads every tensor `lookup` has for this module's keys, converting to each slot's dtype.
    /// Keys `lookup` lacks keep their values; use the strict report to require all of them.
    public func loadState(prefix: String = "", from lookup: (String) -> Tensor?) throws {
        for (name, current) in localState {
            guard var tensor = lookup(prefix + name) else { continue }
            // PyTorch accepts a [1] tensor for a 0-d slot, as old exports stored num_batches_tracked.
            if current.shape.isEmpty && tensor.shape == [1] { tensor = try tensor.reshaped([]) }
            guard tensor.shape == current.shape else {
                throw NNError.stateShape(key: prefix + name, expected: current.shape, got: tensor.shape)
            }
            try setLocalState(name, to: tensor.converted(to: current.dtype))
        }
        for (name, child) in children {
            try child.loadState(prefix: prefix + name + ".", from: lookup)
        }
    }

    /// Sets train (true) or eval (false) mode on this module and every submodule.
    public func train(_ mode: Bool = true) {
        isTraining = mode
        for (_, child) in children { child.train(mode) }
    }

    /// Eval mode, as PyTorch's `model.eval()`.
    public func eval() { train(false) }

    /// Number of parameters (not buffers), as `sum(p.numel() for p in model.parameters())`.
    public var parameterCount: Int {
        stateDict().filter { entry in
            let name = entry.key.split(separator: ".").last.map(String.init) ?? entry.key
            return !["running_mean", "running_var", "num_batches_tracked"].contains(name)
        }.reduce(0) { $0 + $1.tensor.count }
    }
}

/// Checks a replacement tensor against the slot it fills.
func requireShape(_ tensor: Tensor, _ shape: [Int], key: String) throws {
    guard tensor.shape == shape else { throw NNError.stateShape(key: key, expected: shape, got: tensor.shape) }
}
