import Checkpoint
import Foundation
import JSON
import ModelZoo
import NN
import Tensor
import TestSupport
import Testing

/// `zoo train`'s engine on a small model and synthetic data: a run stopped after some steps
/// and resumed ends in the same file, bit for bit, as the run that never stopped; the same
/// seed gives the same file; the checkpoint holds what the format page promises.
struct TrainerTests {
    /// `cnnmodel` (conv, ReLU, Linear on the last axis) trained as a regression on 10 samples.
    private func setUp(_ folder: URL) throws -> (model: String, data: TrainingSet) {
        let path = folder.appendingPathComponent("start.h5").path
        _ = try Exporter.export(Registry.cnnModel, arguments: [:], seed: 3, to: path)
        var generator = SeededGenerator(seed: 11)
        let inputs = Tensor(shape: [10, 1, 2, 32], scalars: generator.uniform(count: 640, bound: 1))
        let targets = Tensor(shape: [10, 32, 2, 10], scalars: generator.uniform(count: 6400, bound: 1))
        return (path, try TrainingSet(inputs: inputs, targets: targets))
    }

    private func options(epochs: Int = 3, steps: Int? = nil, resume: Bool = false) -> TrainingOptions {
        var options = TrainingOptions(epochs: epochs, batchSize: 4)
        options.loss = .mse
        options.optimizer = .adamw
        options.seed = 7
        options.maxSteps = steps
        options.resume = resume
        return options
    }

    @Test func aResumedRunEndsInTheSameFileAsAnUninterruptedOne() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (start, data) = try setUp(folder)
        let straight = folder.appendingPathComponent("straight.h5").path
        let report = try Trainer.train(try ZooModel(contentsOf: start), data: data, options: options(), output: straight)
        #expect(report.steps == 9 && report.epochs.count == 3 && !report.stoppedEarly)

        // Stopped inside the second epoch (3 batches per epoch), then resumed twice.
        let first = folder.appendingPathComponent("first.h5").path
        let partial = try Trainer.train(try ZooModel(contentsOf: start), data: data, options: options(steps: 4), output: first)
        #expect(partial.steps == 4 && partial.stoppedEarly && partial.epochs.count == 1)
        let second = folder.appendingPathComponent("second.h5").path
        _ = try Trainer.train(try ZooModel(contentsOf: first), data: data, options: options(steps: 1, resume: true), output: second)
        let resumed = folder.appendingPathComponent("resumed.h5").path
        let last = try Trainer.train(try ZooModel(contentsOf: second), data: data, options: options(resume: true), output: resumed)
        #expect(last.epochs == report.epochs)
        #expect(last.steps == 9)

        let a = try ZooModel(contentsOf: straight).checkpoint
        let b = try ZooModel(contentsOf: resumed).checkpoint
        #expect(a.stateDict == b.stateDict)
        #expect(a.metadata[TrainingState.key] == b.metadata[TrainingState.key])
    }

    /// Stopped at an epoch's end (3 batches an epoch), where the next epoch's shuffled order is
    /// yet to be drawn: the resumed run draws the same order as the run that never stopped.
    @Test func aRunStoppedAtAnEpochsEndResumesTheSame() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (start, data) = try setUp(folder)
        let straight = folder.appendingPathComponent("straight.h5").path
        _ = try Trainer.train(try ZooModel(contentsOf: start), data: data, options: options(epochs: 2), output: straight)
        let stopped = folder.appendingPathComponent("stopped.h5").path
        _ = try Trainer.train(try ZooModel(contentsOf: start), data: data, options: options(epochs: 2, steps: 3), output: stopped)
        let state = try #require(try TrainingState(ZooModel(contentsOf: stopped).checkpoint)).json
        #expect(state["epoch"] == .int(1) && state["step"] == .int(0))
        let resumed = folder.appendingPathComponent("resumed.h5").path
        _ = try Trainer.train(try ZooModel(contentsOf: stopped), data: data, options: options(epochs: 2, resume: true), output: resumed)
        #expect(try ZooModel(contentsOf: resumed).checkpoint.stateDict == ZooModel(contentsOf: straight).checkpoint.stateDict)
    }

    @Test func theSameSeedGivesTheSameFile() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (start, data) = try setUp(folder)
        let paths = ["a.h5", "b.h5"].map { folder.appendingPathComponent($0).path }
        for path in paths { _ = try Trainer.train(try ZooModel(contentsOf: start), data: data, options: options(epochs: 2), output: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: paths[0])) == Data(contentsOf: URL(fileURLWithPath: paths[1])))
        var other = options(epochs: 2)
        other.seed = 8
        let third = folder.appendingPathComponent("c.h5").path
        _ = try Trainer.train(try ZooModel(contentsOf: start), data: data, options: other, output: third)
        #expect(try ZooModel(contentsOf: third).checkpoint.stateDict != ZooModel(contentsOf: paths[0]).checkpoint.stateDict)
    }

    @Test func theCheckpointHoldsTheOptimizerStateInPyTorchsLayout() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (start, data) = try setUp(folder)
        let out = folder.appendingPathComponent("out.h5").path
        _ = try Trainer.train(try ZooModel(contentsOf: start), data: data, options: options(epochs: 1), output: out)
        let trained = try ZooModel(contentsOf: out)
        #expect(trained.verify().passed)
        let state = try #require(try TrainingState(trained.checkpoint)).json
        let parameters = trained.resolved.model.namedParameters()
        #expect(state["parameters"]?.arrayValue?.compactMap(\.stringValue) == parameters.map(\.key))
        let group = try #require(state["optimizer"]?["param_groups"]?.arrayValue?.first)
        for key in [
            "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable", "differentiable", "fused",
            "decoupled_weight_decay", "params",
        ] {
            #expect(group[key] != nil, "param_groups lacks \(key)")
        }
        #expect(group["decoupled_weight_decay"] == .bool(true))
        for index in parameters.indices {
            let entry = try #require(state["optimizer"]?["state"]?[String(index)])
            let step = try TrainingState.decode(try #require(entry["step"]), path: out)
            #expect(step.shape == [] && step.scalars == [3])
            let average = try TrainingState.decode(try #require(entry["exp_avg"]), path: out)
            #expect(average.shape == parameters[index].slot.shape)
        }
        #expect(state["epoch"] == .int(1) && state["step"] == .int(0) && state["global_step"] == .int(3))
    }

    /// Ctrl-C before the first step (zoo train's handler is already installed) still ends the
    /// run after one whole step, so that OUT always records progress; later, after the step in
    /// progress.
    @Test(arguments: [(0, 1), (2, 2)])
    func aStopRequestedBeforeAStepEndsTheRunAfterIt(stepsBeforeTheRequest: Int, expectedSteps: Int) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (start, data) = try setUp(folder)
        let out = folder.appendingPathComponent("out.h5").path
        var taken = 0
        let report = try Trainer.train(
            try ZooModel(contentsOf: start), data: data, options: options(), output: out,
            shouldStop: { taken >= stepsBeforeTheRequest }, progress: { _ in taken += 1 })
        #expect(report.steps == expectedSteps && report.stoppedEarly)
        let state = try #require(try TrainingState(ZooModel(contentsOf: out).checkpoint)).json
        #expect(state["global_step"] == .int(Int64(expectedSteps)))
    }

    @Test func resumingAFileWithoutStateIsAnError() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (start, data) = try setUp(folder)
        #expect(throws: TrainingError.self) {
            try Trainer.train(
                try ZooModel(contentsOf: start), data: data, options: options(resume: true),
                output: folder.appendingPathComponent("x.h5").path)
        }
    }
}
