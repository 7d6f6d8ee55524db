import Checkpoint
import Foundation
import JSON
import TestSupport
import Testing

/// `zoo train --resume` continues the run as it was set up: the first command line given again
/// agrees with it; a setting that differs (optimizer, rate, momentum, weight decay, loss, batch
/// size, seed, order) is exit 2 naming the flag and the run's value, never silently ignored; and
/// `--momentum` on an optimizer that has none is refused on a new run too.
@Suite("TrainResumeFlags")
struct TrainResumeFlagsTests {
    static let data = TrainSchedulerTests.data(epochs: 3)
    /// SGD with every hyper-parameter away from its default, and a schedule that moves the rate
    /// (so that --lr is compared with the rate the run started at, not the scheduled one).
    static let setUp = [
        "--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9", "--weight-decay", "0.01", "--seed", "3", "--scheduler", "step",
        "--step-size", "1", "--gamma", "0.5",
    ]

    static let contradictions: [(flags: [String], message: String)] = [
        (["--optimizer", "adam"], "--optimizer adam (the run has sgd)"),
        (["--lr", "0.1"], "--lr 0.1 (the run has 0.05)"),
        (["--momentum", "0.5"], "--momentum 0.5 (the run has 0.9)"),
        (["--weight-decay", "0"], "--weight-decay 0.0 (the run has 0.01)"),
        (["--loss", "mse"], "--loss mse (the run has cross-entropy)"),
        (["--seed", "4"], "--seed 4 (the run has 3)"),
        (["--batch-size", "5"], "--batch-size 5 (the run has 4)"),
        (["--lr", "0.1", "--seed", "4"], "--seed 4 (the run has 3), --lr 0.1 (the run has 0.05) differ from the run"),
    ]

    @Test func aResumedRunRefusesEverySettingThatDiffersAndTakesTheSameOnes() throws {
        let temporary = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let started = temporary.appendingPathComponent("started.h5").path
        let first = try runZoo(
            ["train", TrainSchedulerTests.path("start.h5"), "--output", started, "--steps", "4"] + Self.data + Self.setUp)
        try #require(first.status == 0, "\(first.all)")
        let out = temporary.appendingPathComponent("out.h5").path
        for (flags, message) in Self.contradictions {
            // A later flag overrides the same earlier one, as the parser reads a command line.
            let result = try runZoo(["train", started, "--resume", "--output", out] + Self.data + Self.setUp + flags)
            #expect(result.status == 2, "\(flags): \(result.all)")
            let line = result.stderr.split(separator: "\n").first ?? ""
            #expect(line.hasPrefix("error: ") && line.contains(message), "\(flags): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(flags) wrote OUT")
        }
        // The first command line again, and the bare one: both continue the saved run.
        for flags in [Self.setUp, []] {
            let again = try runZoo(["train", started, "--resume", "--output", out] + Self.data + flags)
            #expect(again.status == 0, "\(flags): \(again.all)")
            let state = try #require(try TrainingState(CheckpointReader.read(out))).json
            let group = state["optimizer"]?["param_groups"]?.arrayValue?.first
            #expect(
                group?["momentum"]?.doubleValue == 0.9 && group?["weight_decay"]?.doubleValue == 0.01,
                "\(flags): \(String(describing: group))")
            #expect(group?["initial_lr"]?.doubleValue == 0.05, "\(flags): \(String(describing: group))")
            try FileManager.default.removeItem(atPath: out)
        }
    }

    @Test(arguments: ["adam", "adamw"])
    func momentumOnAnOptimizerWithoutItIsRefused(optimizer: String) throws {
        let result = try runZoo(
            ["train", TrainSchedulerTests.path("start.h5"), "--output", "/dev/null/x.h5", "--optimizer", optimizer, "--momentum", "0.9"]
                + Self.data)
        #expect(result.status == 2, "\(result.all)")
        #expect(result.stderr.hasPrefix("error: --momentum is SGD's; \(optimizer) has none"), "\(result.stderr)")
    }
}
