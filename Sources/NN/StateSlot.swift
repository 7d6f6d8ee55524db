import Tensor

/// One parameter or buffer a layer owns, declared once: its state_dict name, kind, shape, dtype
/// and PyTorch's initialisation. Loading, `state_dict`, strict reports, parameter counts and
/// ``ModuleBase/resetParameters(using:)`` all follow from a layer's list of slots.
public struct StateSlot: Sendable, Hashable {
    /// A parameter counts in `model.parameters()`; a buffer (BatchNorm's running statistics) does not.
    public enum Kind: Sendable, Hashable { case parameter, buffer }

    /// How PyTorch's `reset_parameters()` fills the slot.
    public enum Initialisation: Sendable, Hashable {
        /// Every element set to the value (BatchNorm's ones and zeros).
        case constant(Float)
        /// U(-bound, bound), drawn from the model's generator in slot order.
        case uniform(bound: Float)
    }

    /// The name in `state_dict()`, as PyTorch names it (`weight`, `running_mean`).
    public let name: String
    public let kind: Kind
    public let shape: [Int]
    public let dtype: DType
    public let initialisation: Initialisation

    public static func parameter(_ name: String, shape: [Int], initialisation: Initialisation) -> StateSlot {
        StateSlot(name: name, kind: .parameter, shape: shape, dtype: .float32, initialisation: initialisation)
    }

    public static func buffer(_ name: String, shape: [Int], dtype: DType = .float32, initialisation: Initialisation) -> StateSlot {
        StateSlot(name: name, kind: .buffer, shape: shape, dtype: dtype, initialisation: initialisation)
    }

    /// What the slot holds before anything is loaded or drawn: its constant, or zeros for a
    /// random initialisation (as a fresh layer reads before `reset_parameters()`).
    var unsetValue: Tensor {
        guard case .constant(let value) = initialisation, value != 0 else { return Tensor(zeros: shape, dtype: dtype) }
        return Tensor(shape: shape, scalars: Array(repeating: value, count: shape.reduce(1, *))).converted(to: dtype)
    }

    /// The layer's state_dict key for this slot under `prefix`.
    func key(_ prefix: String) -> String { prefix + name }
}

extension ModuleBase {
    /// This module's own parameters and buffers with their values, in registration order.
    public var localState: [(name: String, tensor: Tensor)] {
        stateSlots.map { ($0.name, self[$0]) }
    }

    /// Replaces one of this module's own tensors, converted to the slot's dtype; the shape must match.
    public func setLocalState(_ name: String, to tensor: Tensor) throws {
        guard let slot = stateSlots.first(where: { $0.name == name }) else { throw NNError.unknownStateKey(key: name) }
        guard tensor.shape == slot.shape else { throw NNError.stateShape(key: name, expected: slot.shape, got: tensor.shape) }
        self[slot] = tensor.converted(to: slot.dtype)
    }

    /// Sets this module's own parameters and buffers as PyTorch's constructor does (its
    /// `reset_parameters()`), drawing random values from `generator` in slot order. A constant
    /// slot goes back to its unset value, which is that constant, so nothing is allocated.
    public func resetParameters(using generator: inout SeededGenerator) throws {
        for slot in stateSlots {
            switch slot.initialisation {
            case .constant: clear(slot)
            case .uniform(let bound):
                self[slot] = Tensor(shape: slot.shape, scalars: generator.uniform(count: slot.shape.reduce(1, *), bound: bound))
            }
        }
    }
}
