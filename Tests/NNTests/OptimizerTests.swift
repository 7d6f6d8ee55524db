import Foundation
import HDF5
import JSON
import NN
import Tensor
import TestSupport
import Testing

/// Every optimizer case PyTorch ran in Tools/make_training_fixtures.py (optimizers.h5): a
/// Linear(4, 3) stepped eight times on stored gradients, the scheduler after each step; the
/// parameters after every step and the final optimizer state within the gradient rule, the
/// learning rates to 1e-12 relative.
struct OptimizerTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/training/optimizers.h5").path

    static let cases: [String] = ((try? HDF5File.openReadOnly(fixture).rootGroup().members()) ?? []).map(\.name)

    @Test func everyOptimizerAndSchedulerHasCases() {
        for name in ["sgd", "adam", "adamw", "steplr", "cosine", "amsgrad", "nesterov"] {
            #expect(Self.cases.contains { $0.contains(name) }, "\(name)")
        }
    }

    @Test(arguments: cases)
    func matchesPyTorch(name: String) throws {
        let group = try HDF5File.openReadOnly(Self.fixture).rootGroup().openGroup(name)
        let config = try JSONValue.parse(try #require(try group.stringAttribute("config")))
        let layer = try Linear(inFeatures: 4, outFeatures: 3)
        try layer.load(StateDict(try readGroup(group.openGroup("state")).map { ($0.key, $0.value) }))
        let parameters = layer.namedParameters()
        let optimizer = try makeOptimizer(config, parameters)
        var scheduler = try makeScheduler(config["scheduler"], optimizer)
        let members = Set(try group.members().map(\.name))
        var step = 0
        while members.contains("grads_\(step)") {
            let gradients = ParameterGradients()
            let stored = try readGroup(group.openGroup("grads_\(step)"))
            for parameter in parameters { try gradients.accumulate(try #require(stored[parameter.key]), into: parameter) }
            optimizer.step(gradients)
            scheduler?.step(optimizer)
            let expected = try readGroup(group.openGroup("params_\(step)"))
            for parameter in parameters {
                expectGradientClose(
                    parameter.value, try #require(expected[parameter.key]), context: "\(name) step \(step) \(parameter.key)")
            }
            let rate = try group.openDataset("lr_\(step)").readTensor().converted(to: .float64)
            guard case .float64(let wanted) = rate.storage else { throw NNError.invalidConfig(reason: "lr is not float64") }
            #expect(abs(optimizer.learningRate - wanted[0]) <= 1e-12 * abs(wanted[0]), "\(name) lr after step \(step)")
            step += 1
        }
        #expect(step == 8)
        try checkState(group.openGroup("optimizer_state"), optimizer, name: name)
    }

    @Test func aParameterWithoutAGradientIsLeftAlone() throws {
        let layer = try Linear(inFeatures: 2, outFeatures: 2)
        let before = layer.stateDict()
        let optimizer = try Adam(parameters: layer.namedParameters(), learningRate: 0.1)
        optimizer.step(ParameterGradients())
        #expect(layer.stateDict() == before)
        #expect(optimizer.states.allSatisfy { $0 == nil })
    }

    private func checkState(_ group: HDF5Group, _ optimizer: any Optimizer, name: String) throws {
        for (index, parameter) in optimizer.parameters.enumerated() {
            // PyTorch keeps no state at all for a parameter SGD without momentum stepped.
            let present = try group.members().contains { $0.name == String(index) }
            let entries = present ? try readGroup(group.openGroup(String(index))) : [:]
            let shape = parameter.slot.shape
            func expect(_ key: String, _ values: [Float]?) throws {
                let wanted = try #require(entries[key], "\(name) state \(index) has no \(key)")
                let actual = try #require(values, "\(name) zoo keeps no \(key)")
                expectGradientClose(Tensor(shape: wanted.shape, scalars: actual), wanted, context: "\(name) state \(index) \(key)")
            }
            if let adam = optimizer as? Adam {
                let state = try #require(adam.states[index])
                try expect("step", [state.step])
                try expect("exp_avg", state.expAvg)
                try expect("exp_avg_sq", state.expAvgSq)
                if adam.amsgrad { try expect("max_exp_avg_sq", state.maxExpAvgSq) }
                #expect(Set(entries.keys) == Set(["step", "exp_avg", "exp_avg_sq"] + (adam.amsgrad ? ["max_exp_avg_sq"] : [])))
            } else if let sgd = optimizer as? SGD {
                if sgd.momentum != 0 { try expect("momentum_buffer", sgd.momentumBuffers[index]) }
                #expect(entries.keys.sorted() == (sgd.momentum != 0 ? ["momentum_buffer"] : []), "\(name) \(shape)")
            }
        }
    }

    private func makeOptimizer(_ config: JSONValue, _ parameters: [NamedParameter]) throws -> any Optimizer {
        let lr = config["lr"]?.doubleValue ?? 0.001
        let betas = config["betas"]?.arrayValue?.compactMap(\.doubleValue) ?? [0.9, 0.999]
        let decay = config["weight_decay"]?.doubleValue
        switch config["optimizer"]?.stringValue {
        case "SGD":
            return try SGD(
                parameters: parameters, learningRate: lr, momentum: config["momentum"]?.doubleValue ?? 0,
                dampening: config["dampening"]?.doubleValue ?? 0, weightDecay: decay ?? 0, nesterov: config["nesterov"]?.boolValue ?? false,
                maximize: config["maximize"]?.boolValue ?? false)
        case let kind?:
            return try Adam(
                parameters: parameters, learningRate: lr, betas: (betas[0], betas[1]), eps: config["eps"]?.doubleValue ?? 1e-8,
                weightDecay: decay ?? (kind == "AdamW" ? 0.01 : 0), amsgrad: config["amsgrad"]?.boolValue ?? false,
                decoupledWeightDecay: kind == "AdamW")
        case nil: throw NNError.invalidConfig(reason: "no optimizer in \(config)")
        }
    }

    private func makeScheduler(_ config: JSONValue?, _ optimizer: any Optimizer) throws -> (any LearningRateScheduler)? {
        guard let config, let type = config["type"]?.stringValue else { return nil }
        if type == "StepLR" {
            return try StepLR(
                optimizer: optimizer, stepSize: try #require(config["step_size"]?.intValue), gamma: config["gamma"]?.doubleValue ?? 0.1)
        }
        return try CosineAnnealingLR(
            optimizer: optimizer, tMax: try #require(config["T_max"]?.intValue), etaMin: config["eta_min"]?.doubleValue ?? 0)
    }

    private func readGroup(_ group: HDF5Group) throws -> [String: Tensor] {
        var values: [String: Tensor] = [:]
        for member in try group.members() { values[member.name] = try group.openDataset(member.name).readTensor() }
        return values
    }
}
