import Checkpoint
import JSON
import NN
import Tensor

/// Which optimizer `zoo train` steps with, as `--optimizer` names it.
public enum OptimizerKind: String, Sendable, CaseIterable, Codable {
    case sgd, adam, adamw

    /// PyTorch's class name.
    var className: String {
        switch self {
        case .sgd: "SGD"
        case .adam: "Adam"
        case .adamw: "AdamW"
        }
    }
}

/// An optimizer's state as PyTorch's `optimizer.state_dict()` lays it out, and back.
enum OptimizerStateDict {
    /// `{"state": {"0": {...}, ...}, "param_groups": [{..., "params": [0, 1, ...]}]}`, with
    /// `initial_lr` when a scheduler runs (PyTorch's schedulers add it, and need it to resume).
    static func encode(_ optimizer: any Optimizer, initialLearningRate: Double? = nil) -> JSONValue {
        var state: [String: JSONValue] = [:]
        var group: [String: JSONValue] = [
            "lr": .double(optimizer.learningRate), "maximize": .bool(false), "foreach": .null, "differentiable": .bool(false),
            "fused": .null, "params": .array(optimizer.parameters.indices.map { .int(Int64($0)) }),
        ]
        if let initialLearningRate { group["initial_lr"] = .double(initialLearningRate) }
        if let sgd = optimizer as? SGD {
            group.merge(
                [
                    "momentum": .double(sgd.momentum), "dampening": .double(sgd.dampening), "weight_decay": .double(sgd.weightDecay),
                    "nesterov": .bool(sgd.nesterov), "maximize": .bool(sgd.maximize),
                ]
            ) { $1 }
            for (index, buffer) in sgd.momentumBuffers.enumerated() {
                guard let buffer else { continue }
                let shape = sgd.parameters[index].slot.shape
                state[String(index)] = .object(["momentum_buffer": TrainingState.encode(Tensor(shape: shape, scalars: buffer))])
            }
        } else if let adam = optimizer as? Adam {
            group.merge(
                [
                    "betas": .array([.double(adam.beta1), .double(adam.beta2)]), "eps": .double(adam.eps),
                    "weight_decay": .double(adam.weightDecay), "amsgrad": .bool(adam.amsgrad), "maximize": .bool(adam.maximize),
                    "capturable": .bool(false), "decoupled_weight_decay": .bool(adam.decoupledWeightDecay),
                ]
            ) { $1 }
            for (index, entry) in adam.states.enumerated() {
                guard let entry else { continue }
                let shape = adam.parameters[index].slot.shape
                var fields: [String: JSONValue] = [
                    "step": TrainingState.encode(Tensor(shape: [], scalars: [entry.step])),
                    "exp_avg": TrainingState.encode(Tensor(shape: shape, scalars: entry.expAvg)),
                    "exp_avg_sq": TrainingState.encode(Tensor(shape: shape, scalars: entry.expAvgSq)),
                ]
                if let largest = entry.maxExpAvgSq {
                    fields["max_exp_avg_sq"] = TrainingState.encode(Tensor(shape: shape, scalars: largest))
                }
                state[String(index)] = .object(fields)
            }
        }
        return .object(["state": .object(state), "param_groups": .array([.object(group)])])
    }

    /// The optimizer a saved state describes (its class, every hyper-parameter and the
    /// per-parameter state), over `parameters`; `path` names the file in errors.
    static func decode(_ json: JSONValue, kind: OptimizerKind, parameters: [NamedParameter], path: String) throws -> any Optimizer {
        guard let group = json["param_groups"]?.arrayValue?.first, let lr = group["lr"]?.doubleValue else {
            throw TrainingError.invalidState(path: path, reason: "the optimizer state has no param_groups with an lr")
        }
        let count = group["params"]?.arrayValue?.count ?? -1
        guard count == parameters.count else {
            throw TrainingError.invalidState(
                path: path, reason: "the optimizer state covers \(count) parameters, the model has \(parameters.count)")
        }
        let state = json["state"]?.objectValue ?? [:]
        func tensor(_ index: Int, _ name: String) throws -> [Float]? {
            guard let value = state[String(index)]?[name] else { return nil }
            let decoded = try TrainingState.decode(value, path: path)
            guard decoded.count == (name == "step" ? 1 : parameters[index].slot.shape.reduce(1, *)) else {
                throw TrainingError.invalidState(path: path, reason: "state \(index) \(name) has shape \(decoded.shape)")
            }
            return decoded.scalars
        }
        let number = { (name: String, fallback: Double) in group[name]?.doubleValue ?? fallback }
        let flag = { (name: String) in group[name]?.boolValue ?? false }
        switch kind {
        case .sgd:
            let sgd = try SGD(
                parameters: parameters, learningRate: lr, momentum: number("momentum", 0), dampening: number("dampening", 0),
                weightDecay: number("weight_decay", 0), nesterov: flag("nesterov"), maximize: flag("maximize"))
            for index in parameters.indices { sgd.restoreMomentumBuffer(try tensor(index, "momentum_buffer"), at: index) }
            return sgd
        case .adam, .adamw:
            let betas = group["betas"]?.arrayValue?.compactMap(\.doubleValue) ?? [0.9, 0.999]
            guard betas.count == 2 else { throw TrainingError.invalidState(path: path, reason: "betas must be two numbers") }
            let adam = try Adam(
                parameters: parameters, learningRate: lr, betas: (betas[0], betas[1]), eps: number("eps", 1e-8),
                weightDecay: number("weight_decay", 0), amsgrad: flag("amsgrad"), maximize: flag("maximize"),
                decoupledWeightDecay: kind == .adamw)
            for index in parameters.indices {
                guard let step = try tensor(index, "step"), let expAvg = try tensor(index, "exp_avg"),
                    let expAvgSq = try tensor(index, "exp_avg_sq")
                else { continue }
                adam.restoreState(
                    Adam.AdamState(step: step[0], expAvg: expAvg, expAvgSq: expAvgSq, maxExpAvgSq: try tensor(index, "max_exp_avg_sq")),
                    at: index)
            }
            return adam
        }
    }
}
