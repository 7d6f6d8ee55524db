import Checkpoint
import Foundation
import JSON
import Tensor
import TestSupport
import Testing

/// `zoo train --scheduler` against PyTorch's usual loop (`scheduler.step()` after each epoch),
/// on an MLP and 10 examples (`Fixtures/schedules`, written by Tools/make_training_fixtures.py):
/// the learning rate after every epoch, the scheduler's state and the final weights are
/// PyTorch's; a run made of one-epoch resumed runs ends in the same file; bad flag combinations
/// and flags that contradict a resumed run's scheduler are exit 2 naming the flag.
@Suite("TrainScheduler")
struct TrainSchedulerTests {
    static let folder = repositoryRoot.appendingPathComponent("Tests/ZooCommandTests/Fixtures/schedules")
    static let runs: [JSONValue] =
        ((try? String(contentsOf: folder.appendingPathComponent("expected.json"), encoding: .utf8)).flatMap { try? JSONValue.parse($0) })?[
            "cases"]?.arrayValue ?? []

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// File order, batches of 4 (the last of 2): three steps an epoch.
    static func data(epochs: Int) -> [String] {
        ["--inputs", path("inputs.npy"), "--targets", path("targets.npy"), "--batch-size", "4", "--no-shuffle", "--epochs", "\(epochs)"]
    }

    @Test func theFixturesCoverBothSchedulers() {
        let kinds = Self.runs.compactMap { run -> String? in
            let flags = strings(run["flags"])
            return flags.firstIndex(of: "--scheduler").map { flags[$0 + 1] }
        }
        #expect(Set(kinds) == ["step", "cosine"], "Fixtures/schedules/expected.json: run Tools/make_training_fixtures.py")
    }

    @Test(arguments: runs.compactMap { $0["name"]?.stringValue })
    func aScheduledRunIsPyTorchs(name: String) throws {
        let run = try #require(Self.runs.first { $0["name"]?.stringValue == name })
        let flags = strings(run["flags"])
        let epochs = try #require(run["epochs"]?.intValue)
        let lrs = numbers(run["lrs"])
        try #require(!flags.isEmpty && lrs.count == epochs)
        let temporary = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: temporary) }

        let straight = temporary.appendingPathComponent("straight.h5").path
        let result = try runZoo(["train", Self.path("start.h5"), "--output", straight] + Self.data(epochs: epochs) + flags)
        try #require(result.status == 0, "\(result.all)")
        let trained = try CheckpointReader.read(straight)
        for (key, entry) in try #require(run["state"]?.objectValue) {
            let shape = numbers(entry["shape"]).map { Int($0) }
            let values = numbers(entry["values"]).map { Float($0) }
            let actual = try #require(trained.stateDict[key], "\(key) is missing")
            let (worst, bound) = gradientError(actual, Tensor(shape: shape, scalars: values))
            #expect(worst <= bound, "\(name): \(key) is \(worst) from PyTorch's (bound \(bound))")
        }
        let state = try #require(try TrainingState(trained)).json
        #expect(sameRate(learningRate(state), lrs[epochs - 1]), "\(name): final lr \(learningRate(state)) vs PyTorch's \(lrs[epochs - 1])")
        let scheduler = try #require(state["scheduler"]?.objectValue)
        for (key, expected) in try #require(run["scheduler_state"]?.objectValue) where !key.hasPrefix("_") || key == "_last_lr" {
            let (a, e) = (numbers(scheduler[key]), numbers(expected))
            #expect(
                a.count == e.count && zip(a, e).allSatisfy { sameRate($0.0, $0.1) }, "\(name): scheduler \(key) is \(a), PyTorch's \(e)")
        }

        // One epoch per run (--steps 3), each resumed from the last: PyTorch's rate after every
        // epoch, and the same file at the end.
        var previous = Self.path("start.h5")
        for epoch in 1...epochs {
            let out = temporary.appendingPathComponent("epoch\(epoch).h5").path
            let arguments =
                epoch == 1
                ? ["train", previous, "--output", out, "--steps", "3"] + Self.data(epochs: epochs) + flags
                : ["train", previous, "--resume", "--output", out, "--steps", "3"] + Self.data(epochs: epochs)
            let step = try runZoo(arguments)
            try #require(step.status == 0, "\(name) epoch \(epoch): \(step.all)")
            let saved = try #require(try TrainingState(CheckpointReader.read(out))).json
            #expect(saved["epoch"]?.intValue == epoch && saved["scheduler"]?["last_epoch"]?.intValue == epoch)
            #expect(sameRate(learningRate(saved), lrs[epoch - 1]), "\(name) epoch \(epoch): lr \(learningRate(saved)) vs \(lrs[epoch - 1])")
            previous = out
        }
        let resumed = try CheckpointReader.read(previous)
        #expect(resumed.stateDict == trained.stateDict, "\(name): the resumed runs end elsewhere than the straight one")
        #expect(try TrainingState(resumed) == TrainingState(trained))
    }

    /// Each flag's misuse, and the words the error must contain.
    static let misuses: [(flags: [String], message: String)] = [
        (["--step-size", "2"], "--step-size needs --scheduler step"),
        (["--scheduler", "cosine", "--gamma", "0.5"], "--gamma needs --scheduler step"),
        (["--t-max", "3"], "--t-max needs --scheduler cosine"),
        (["--scheduler", "step", "--step-size", "1", "--eta-min", "0.1"], "--eta-min needs --scheduler cosine"),
        (["--scheduler", "step"], "--scheduler step needs --step-size"),
        (["--scheduler", "step", "--step-size", "0"], "--step-size must be between 1 and 2147483647"),
        (["--scheduler", "cosine", "--t-max", "0"], "--t-max must be between 1 and 2147483647"),
        (["--scheduler", "cosine", "--eta-min", "inf"], "--eta-min must be a finite non-negative number"),
        (["--scheduler", "step", "--step-size", "2", "--gamma", "nan"], "--gamma must be a finite non-negative number"),
        (["--scheduler", "linear"], "--scheduler"),
    ]

    @Test(arguments: misuses.indices)
    func aMisusedSchedulerFlagIsExitTwoNamingIt(index: Int) throws {
        let (flags, message) = Self.misuses[index]
        let result = try runZoo(["train", Self.path("start.h5"), "--output", "/dev/null/x.h5"] + Self.data(epochs: 2) + flags)
        #expect(result.status == 2, "\(flags): \(result.all)")
        #expect(firstLine(result.stderr).hasPrefix("error: ") && firstLine(result.stderr).contains(message), "\(flags): \(result.stderr)")
    }

    @Test func resumeKeepsTheSavedSchedulerAndRefusesAnother() throws {
        let temporary = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let scheduled = temporary.appendingPathComponent("scheduled.h5").path
        let plain = temporary.appendingPathComponent("plain.h5").path
        let step = ["--scheduler", "step", "--step-size", "2", "--gamma", "0.5"]
        #expect(
            try runZoo(["train", Self.path("start.h5"), "--output", scheduled, "--steps", "4"] + Self.data(epochs: 3) + step).status == 0)
        #expect(try runZoo(["train", Self.path("start.h5"), "--output", plain, "--steps", "4"] + Self.data(epochs: 3)).status == 0)
        let out = temporary.appendingPathComponent("out.h5").path
        for (file, flags, message) in [
            (scheduled, ["--scheduler", "cosine"], "--scheduler cosine (the run has step)"),
            (scheduled, ["--scheduler", "step", "--step-size", "3"], "--step-size 3 (the run has 2)"),
            (scheduled, ["--scheduler", "step", "--gamma", "0.1"], "--gamma 0.1 (the run has 0.5)"),
            (plain, ["--scheduler", "cosine"], "has no scheduler to continue; --scheduler cosine cannot be added on --resume"),
        ] {
            let result = try runZoo(["train", file, "--resume", "--output", out] + Self.data(epochs: 3) + flags)
            #expect(result.status == 2, "\(flags): \(result.all)")
            #expect(
                firstLine(result.stderr).hasPrefix("error: ") && firstLine(result.stderr).contains(message), "\(flags): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        // The first command line again, with --resume: it agrees with the saved scheduler.
        let again = try runZoo(["train", scheduled, "--resume", "--output", out] + Self.data(epochs: 3) + step)
        #expect(again.status == 0, "\(again.all)")
        let state = try #require(try TrainingState(CheckpointReader.read(out))).json
        #expect(state["scheduler_class"] == .string("StepLR") && state["scheduler"]?["last_epoch"]?.intValue == 3)
        #expect(sameRate(learningRate(state), 0.0005), "StepLR(2, 0.5) from 0.001 after 3 epochs")
    }

    /// Errors name the flag on their first line.
    private func firstLine(_ text: String) -> Substring { text.split(separator: "\n").first ?? "" }

    private func learningRate(_ state: JSONValue) -> Double {
        state["optimizer"]?["param_groups"]?.arrayValue?.first?["lr"]?.doubleValue ?? .nan
    }

    private func strings(_ value: JSONValue?) -> [String] { value?.arrayValue?.compactMap(\.stringValue) ?? [] }

    private func numbers(_ value: JSONValue?) -> [Double] {
        if let array = value?.arrayValue { return array.compactMap(\.doubleValue) }
        return value?.doubleValue.map { [$0] } ?? []
    }

    /// Learning rates are doubles computed by the same formulas: equal to a few ulps.
    private func sameRate(_ actual: Double, _ expected: Double) -> Bool {
        abs(actual - expected) <= 1e-12 * max(abs(expected), 1e-300) || actual == expected
    }
}
