import Checkpoint
import Foundation
import TestSupport
import Testing

/// `zoo train --output OUT.safetensors` is a whole run's checkpoint, as `.h5` is: it verifies,
/// `--resume` continues it (into either format), and a run stopped, resumed and finished
/// through safetensors ends bit for bit where the same run through HDF5 does, its training
/// state (optimizer, scheduler, generator) included.
@Suite("TrainSafetensors")
struct TrainSafetensorsTests {
    /// Shuffled from seed 5 (the generator must travel), a scheduler (its state must travel).
    static let run = [
        "--inputs", TrainSchedulerTests.path("inputs.npy"), "--targets", TrainSchedulerTests.path("targets.npy"), "--batch-size", "4",
        "--epochs", "3", "--seed", "5", "--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9", "--scheduler", "cosine",
    ]

    /// (the format stopped in, the format resumed into).
    @Test(arguments: [("safetensors", "safetensors"), ("safetensors", "h5"), ("h5", "safetensors")])
    func aRunThroughSafetensorsEndsWhereTheHDF5RunDoes(stoppedIn: String, resumedInto: String) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let start = TrainSchedulerTests.path("start.h5")
        func file(_ name: String) -> String { folder.appendingPathComponent(name).path }

        #expect(try runZoo(["train", start, "--output", file("first.h5"), "--steps", "4"] + Self.run).status == 0)
        #expect(try runZoo(["train", file("first.h5"), "--resume", "--output", file("reference.h5")] + Self.run).status == 0)

        let stopped = file("first.\(stoppedIn)")
        if stoppedIn != "h5" {
            let result = try runZoo(["train", start, "--output", stopped, "--steps", "4"] + Self.run)
            try #require(result.status == 0, "\(result.all)")
        }
        let verified = try zooProcess("verify", stopped)
        #expect(verified.status == 0, "\(verified.all)")
        let resumed = file("last.\(resumedInto)")
        let result = try runZoo(["train", stopped, "--resume", "--output", resumed] + Self.run)
        try #require(result.status == 0, "\(result.all)")

        let viaHDF5 = try CheckpointReader.read(file("reference.h5"))
        let via = try CheckpointReader.read(resumed)
        #expect(via.container == (resumedInto == "h5" ? .hdf5 : .safetensors))
        #expect(via.stateDict == viaHDF5.stateDict, "\(stoppedIn) -> \(resumedInto) ends elsewhere than h5 -> h5")
        let state = try #require(try TrainingState(via))
        #expect(state == (try TrainingState(viaHDF5)))
        #expect(state.json["global_step"]?.intValue == 9 && state.json["scheduler"]?["last_epoch"]?.intValue == 3)
    }
}
