import Tensor

extension ModuleBase {
    /// Every parameter and buffer with its full key, in PyTorch's `state_dict()` order.
    public func stateDict(prefix: String = "") -> StateDict {
        StateDict(modulesWithPrefixes(prefix).flatMap { entry in entry.module.localState.map { (entry.prefix + $0.name, $0.tensor) } })
    }

    /// Every module with the key prefix of its state (`layer1.0.conv1.`), parents first.
    func modulesWithPrefixes(_ prefix: String = "") -> [(prefix: String, module: ModuleBase)] {
        [(prefix, self)] + children.flatMap { $0.module.modulesWithPrefixes(prefix + $0.name + ".") }
    }

    /// This module's children and theirs, depth first, parents before children; with the module
    /// itself first, `model.modules()` (see ``Layer/modules``).
    var descendants: [Module] {
        children.flatMap { [$0.module] + $0.module.descendants }
    }

    /// Initialises every module as PyTorch's constructors do, parents before children, all from
    /// one generator: the same seed gives the same model.
    public func resetAllParameters(using generator: inout SeededGenerator) throws {
        for entry in modulesWithPrefixes() { try entry.module.resetParameters(using: &generator) }
    }

    /// Sets train (true) or eval (false) mode on this module and every submodule. Train mode
    /// undoes ``InferenceFusion``: a fused model is unfused.
    public func train(_ mode: Bool = true) {
        for entry in modulesWithPrefixes() {
            entry.module.isTraining = mode
            if mode { (entry.module as? any InferenceFusing)?.removeFusion() }
        }
    }

    /// Eval mode, as PyTorch's `model.eval()`.
    public func eval() { train(false) }

    /// Number of parameters (not buffers), as `sum(p.numel() for p in model.parameters())`.
    public var parameterCount: Int {
        modulesWithPrefixes().reduce(0) { total, entry in
            entry.module.stateSlots.reduce(total) { $0 + ($1.kind == .parameter ? $1.shape.reduce(1, *) : 0) }
        }
    }

    /// Sets ``ConvolutionKernels/keepsPreparedWeights`` on every convolution in the model: false
    /// bounds the model's memory to its own tensors (plus one layer's reordered weights during its
    /// call).
    public func keepPreparedConvolutionWeights(_ keep: Bool) {
        for case let layer as any ConvolutionKernelChoosing in modulesWithPrefixes().map(\.module) {
            layer.kernels.keepsPreparedWeights = keep
        }
    }
}

extension Layer {
    /// This module and every submodule, depth first, parents before children (`model.modules()`).
    public var modules: [Module] { [self] + descendants }
}
