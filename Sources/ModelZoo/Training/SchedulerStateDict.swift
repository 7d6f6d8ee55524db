import JSON
import NN

/// Which learning-rate schedule `zoo train` follows, as `--scheduler` names it.
public enum SchedulerKind: String, Sendable, CaseIterable, Codable {
    /// `torch.optim.lr_scheduler.StepLR`.
    case step
    /// `torch.optim.lr_scheduler.CosineAnnealingLR`.
    case cosine

    /// PyTorch's class name.
    var className: String { self == .step ? "StepLR" : "CosineAnnealingLR" }
}

/// `--scheduler` and its arguments; nil arguments take PyTorch's defaults (`gamma` 0.1,
/// `eta_min` 0), except `T_max`, which defaults to the run's total epochs. Stepped once per
/// epoch, after the epoch's optimizer steps and validation, as PyTorch's usual loop does.
public struct SchedulerOptions: Sendable, Equatable {
    public var kind: SchedulerKind
    /// StepLR's `step_size` (required for `.step`).
    public var stepSize: Int?
    /// StepLR's `gamma`.
    public var gamma: Double?
    /// CosineAnnealingLR's `T_max`.
    public var tMax: Int?
    /// CosineAnnealingLR's `eta_min`.
    public var etaMin: Double?

    public init(kind: SchedulerKind, stepSize: Int? = nil, gamma: Double? = nil, tMax: Int? = nil, etaMin: Double? = nil) {
        (self.kind, self.stepSize, self.gamma, self.tMax, self.etaMin) = (kind, stepSize, gamma, tMax, etaMin)
    }
}

/// A scheduler's state as PyTorch's `scheduler.state_dict()` lays it out (its `__dict__` less
/// the optimizer), and back; the class name is stored beside it as `scheduler_class`.
enum SchedulerStateDict {
    /// A new scheduler over `optimizer` (which is at its base rate), for a run of `epochs`.
    static func make(_ options: SchedulerOptions, optimizer: any Optimizer, epochs: Int) throws -> any LearningRateScheduler {
        switch options.kind {
        case .step:
            guard let stepSize = options.stepSize else { throw TrainingError.options("--scheduler step needs --step-size") }
            return try StepLR(optimizer: optimizer, stepSize: stepSize, gamma: options.gamma ?? 0.1)
        case .cosine:
            let tMax = options.tMax ?? epochs
            guard tMax <= Int32.max else { throw TrainingError.options("--t-max (default --epochs) must be at most 2147483647") }
            return try CosineAnnealingLR(optimizer: optimizer, tMax: tMax, etaMin: options.etaMin ?? 0)
        }
    }

    /// `(scheduler_class, state_dict)`; the optimizer's current rate is `_last_lr`.
    static func encode(_ scheduler: any LearningRateScheduler, learningRate: Double) -> (className: String, state: JSONValue) {
        var state: [String: JSONValue] = [
            "base_lrs": .array([.double(scheduler.baseLearningRate)]), "last_epoch": .int(Int64(scheduler.lastEpoch)),
            "_step_count": .int(Int64(scheduler.lastEpoch + 1)), "_is_initial": .bool(false),
            "_get_lr_called_within_step": .bool(false), "_last_lr": .array([.double(learningRate)]),
        ]
        if let step = scheduler as? StepLR {
            state["step_size"] = .int(Int64(step.stepSize))
            state["gamma"] = .double(step.gamma)
            return (SchedulerKind.step.className, .object(state))
        }
        let cosine = scheduler as? CosineAnnealingLR
        state["T_max"] = .int(Int64(cosine?.tMax ?? 0))
        state["eta_min"] = .double(cosine?.etaMin ?? 0)
        return (SchedulerKind.cosine.className, .object(state))
    }

    /// The scheduler a saved `state_dict` of class `className` describes; `path` names the file
    /// in errors.
    static func decode(_ state: JSONValue, className: String, path: String) throws -> any LearningRateScheduler {
        func field<T>(_ name: String, _ read: (JSONValue) -> T?) throws -> T {
            guard let value = state[name].flatMap(read) else {
                throw TrainingError.invalidState(path: path, reason: "the \(className) state has no usable '\(name)'")
            }
            return value
        }
        let base = try field("base_lrs") { $0.arrayValue?.first?.doubleValue }
        let lastEpoch = try field("last_epoch", \.intValue)
        guard (0...Int(Int32.max)).contains(lastEpoch) else {
            throw TrainingError.invalidState(path: path, reason: "the \(className) last_epoch \(lastEpoch) is out of range")
        }
        switch className {
        case SchedulerKind.step.className:
            let stepSize = try field("step_size", \.intValue)
            guard stepSize > 0 else { throw TrainingError.invalidState(path: path, reason: "StepLR step_size must be positive") }
            return StepLR(stepSize: stepSize, gamma: try field("gamma", \.doubleValue), baseLearningRate: base, lastEpoch: lastEpoch)
        case SchedulerKind.cosine.className:
            let tMax = try field("T_max", \.intValue)
            guard (1...Int(Int32.max)).contains(tMax) else {
                throw TrainingError.invalidState(path: path, reason: "CosineAnnealingLR T_max must be between 1 and 2147483647")
            }
            return CosineAnnealingLR(tMax: tMax, etaMin: try field("eta_min", \.doubleValue), baseLearningRate: base, lastEpoch: lastEpoch)
        default:
            throw TrainingError.invalidState(
                path: path, reason: "unknown scheduler_class '\(className)' (zoo runs StepLR and CosineAnnealingLR)")
        }
    }

    /// On `--resume` the run's saved scheduler continues; scheduler flags given again must say
    /// what it is (a resumed command line may repeat the first one), and cannot add or change one.
    static func check(_ options: SchedulerOptions?, against saved: (any LearningRateScheduler)?, path: String) throws {
        guard let options else { return }
        let flags = "--scheduler \(options.kind.rawValue)"
        guard let saved else {
            throw TrainingError.options("the run \(path) holds has no scheduler to continue; \(flags) cannot be added on --resume")
        }
        var differences: [String] = []
        if let step = saved as? StepLR {
            if options.kind != .step { differences.append("--scheduler \(options.kind.rawValue) (the run has step)") }
            if let size = options.stepSize, size != step.stepSize {
                differences.append("--step-size \(size) (the run has \(step.stepSize))")
            }
            if let gamma = options.gamma, gamma != step.gamma { differences.append("--gamma \(gamma) (the run has \(step.gamma))") }
        } else if let cosine = saved as? CosineAnnealingLR {
            if options.kind != .cosine { differences.append("--scheduler \(options.kind.rawValue) (the run has cosine)") }
            if let tMax = options.tMax, tMax != cosine.tMax { differences.append("--t-max \(tMax) (the run has \(cosine.tMax))") }
            if let eta = options.etaMin, eta != cosine.etaMin { differences.append("--eta-min \(eta) (the run has \(cosine.etaMin))") }
        }
        if !differences.isEmpty {
            throw TrainingError.options(
                "\(differences.joined(separator: ", ")) differs from the scheduler the run \(path) holds; --resume continues that one")
        }
    }
}
