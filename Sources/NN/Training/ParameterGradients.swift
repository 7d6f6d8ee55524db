import Tensor

/// One trainable tensor of a model: its `state_dict` key, the module that owns it and the slot.
public struct NamedParameter {
    public let key: String
    public let module: ModuleBase
    public let slot: StateSlot

    /// The tensor's current value.
    public var value: Tensor { module[slot] }
}

extension ModuleBase {
    /// Every parameter (not buffer) with its full key, in PyTorch's `named_parameters()` order:
    /// the order an optimizer's `state` and `param_groups[0]["params"]` index them.
    public func namedParameters(prefix: String = "") -> [NamedParameter] {
        modulesWithPrefixes(prefix).flatMap { entry in
            entry.module.stateSlots.filter { $0.kind == .parameter }.map {
                NamedParameter(key: entry.prefix + $0.name, module: entry.module, slot: $0)
            }
        }
    }

    /// Replaces a parameter's value, as an optimizer step does; the shape is the slot's.
    func updateParameter(_ slot: StateSlot, to values: [Float]) {
        self[slot] = Tensor(shape: slot.shape, scalars: values)
    }
}

extension NamedParameter {
    /// Sets the parameter to `values` (its element count), as `param.data = ...` does.
    public func update(to values: [Float]) { module.updateParameter(slot, to: values) }
}

/// The gradient of the loss with respect to each parameter, as PyTorch's `.grad`: absent until a
/// pullback adds to it, summed over every use. Keyed by module identity and slot name, so that it
/// needs no key prefixes and two uses of one layer add up.
public final class ParameterGradients {
    private struct Key: Hashable {
        let module: ObjectIdentifier
        let slot: String
    }

    private var values: [Key: [Float]] = [:]

    public init() {}

    /// Adds `gradient` (the slot's element count) to the slot's gradient.
    func accumulate(_ module: ModuleBase, _ slotName: String, _ gradient: [Float]) {
        let key = Key(module: ObjectIdentifier(module), slot: slotName)
        guard var existing = values.removeValue(forKey: key) else {
            values[key] = gradient
            return
        }
        for index in existing.indices { existing[index] += gradient[index] }
        values[key] = existing
    }

    /// Adds `gradient` to `parameter`'s gradient, as a backward pass does (or as a gradient read
    /// from elsewhere is set: onto an empty store).
    public func accumulate(_ gradient: Tensor, into parameter: NamedParameter) throws {
        guard gradient.shape == parameter.slot.shape else {
            throw NNError.stateShape(key: parameter.key, expected: parameter.slot.shape, got: gradient.shape)
        }
        accumulate(parameter.module, parameter.slot.name, gradient.scalars)
    }

    /// The gradient of `parameter`, nil when nothing has flowed into it (`.grad is None`).
    public subscript(parameter: NamedParameter) -> Tensor? {
        values[Key(module: ObjectIdentifier(parameter.module), slot: parameter.slot.name)].map {
            Tensor(shape: parameter.slot.shape, scalars: $0)
        }
    }

    /// Forgets every gradient, as `optimizer.zero_grad()` (set to None) does.
    public func removeAll() { values.removeAll(keepingCapacity: true) }
}
