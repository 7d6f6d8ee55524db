import Tensor

/// A layer or a container of layers, as PyTorch's `nn.Module`: anything with a forward.
///
/// Models are held and passed as `Module` (`let model: Module = Sequential(...)`); a layer is a
/// ``ModuleBase`` subclass that conforms to ``Layer``.
public typealias Module = any Layer

/// What every layer and container must provide: its forward pass. Conforming is how a
/// ``ModuleBase`` subclass becomes a layer, so a layer without a forward does not compile.
public protocol Layer: ModuleBase {
    /// Runs the layer on `input`.
    func forward(_ input: Tensor) throws -> Tensor

    /// The shape ``forward(_:)`` would give for an input of `shape`, checked as `forward` checks
    /// it, with nothing computed or allocated (see `OutputShapes.swift`).
    func outputShape(for shape: [Int]) throws -> [Int]

    /// The bytes of float32 activations alive at once while running on an input of `shape`: its
    /// input and output for a layer, the fullest moment for a container. Saturates at `Int.max`.
    func activationBytes(for shape: [Int]) throws -> Int
}

extension Layer {
    public func callAsFunction(_ input: Tensor) throws -> Tensor { try forward(input) }
}

/// The machinery every layer shares: train or eval mode, its state table (``stateSlots``, see
/// ``StateSlot``) and the tensors that fill it, and its children.
///
/// A layer declares its parameters and buffers once, in ``init(state:)``; loading, `state_dict`,
/// strict reports, parameter counts and PyTorch's initialisation all read that declaration.
open class ModuleBase {
    /// Train mode (true, as PyTorch builds modules) or eval mode (false); affects BatchNorm and
    /// Dropout. Set it for a whole model with ``train(_:)`` or ``eval()``.
    public internal(set) var isTraining = true

    /// This module's own parameters and buffers, in PyTorch's registration order.
    public let stateSlots: [StateSlot]

    /// The tensors loaded or drawn so far, by slot name. An absent slot reads as its unset value
    /// (zeros, or its constant), made only when read, so that a model built to be loaded never
    /// holds a second copy of its weights (zoo verify's peak memory is the checkpoint's tensors,
    /// not twice them).
    private var values: [String: Tensor] = [:]

    /// A module with no state of its own: most layers, and containers.
    public init() {
        stateSlots = []
    }

    /// A module whose own parameters and buffers are `state`, in PyTorch's registration order.
    public init(state: [StateSlot]) {
        stateSlots = state
    }

    /// The PyTorch class name, e.g. `Conv2d`: the Swift class's name.
    public var typeName: String { String(describing: type(of: self)) }

    /// Direct submodules with their attribute names.
    open var children: [(name: String, module: Module)] { [] }

    /// Called after one of this module's tensors changed, for layers that keep something made
    /// from them (a convolution's reordered weights).
    open func stateDidChange() {}

    /// The value in `slot`: loaded, drawn, or the slot's unset value. Set it from outside NN through
    /// ``setLocalState(_:to:)``, which checks the shape.
    public internal(set) subscript(slot: StateSlot) -> Tensor {
        get { values[slot.name] ?? slot.unsetValue }
        set {
            values[slot.name] = newValue
            stateDidChange()
        }
    }

    /// Forgets `slot`'s value, so that it reads as its unset value again.
    func clear(_ slot: StateSlot) {
        if values.removeValue(forKey: slot.name) != nil { stateDidChange() }
    }
}
