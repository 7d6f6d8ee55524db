import Checkpoint
import Foundation
import ModelZoo
import Tensor
import TestSupport
import Testing

/// The front door as an app uses it: open, run, classify, verify; and what it throws.
@Suite("ZooModel")
struct ZooModelTests {
    /// PyTorch-made files with an input and PyTorch's output beside them (Tools/make_zoo.py).
    static let pairs = fixtures.names(suffix: ".input.npy").map { String($0.dropLast(".input.npy".count)) }

    @Test(arguments: pairs)
    func aFileRunsAsPyTorchRunsIt(name: String) throws {
        let model = try ZooModel(contentsOf: fixture(name + ".h5"))
        let output = try model(try NumPyFile.read(fixture(name + ".input.npy")))
        let result = compare(output, try NumPyFile.read(fixture(name + ".expect.npy")), name: name, tolerance: .default)
        #expect(result.passed, "\(name): max abs err \(result.maxAbsoluteError)")
    }

    @Test(arguments: [FileReading.inProcess, .contained(reader: zooExecutable)])
    func theDigitIsASevenAndTheFileVerifies(reading: FileReading) throws {
        let model = try ZooModel(contentsOf: zooFolder.appendingPathComponent("digits.h5"), reading: reading)
        let digit = repositoryRoot.appendingPathComponent("Docs/digit.png").path
        let predictions = try model.classify(pictures: [digit], top: 3)
        #expect(predictions.map(\.top.count) == [3])
        #expect(predictions.first?.top.first?.name == "7")
        #expect(model.verify().passed)
    }

    @Test func aCrashingFileIsAnErrorWhenContained() throws {
        // libhdf5 1.10.8 faults on this file; contained, the app gets an error naming it.
        let path = fixture("bad_hdf5_fault_object_header.h5")
        #expect {
            try ZooModel(contentsOf: path, reading: .contained(reader: zooExecutable, timeout: 30))
        } throws: { error in
            guard case ZooModelError.unreadable(let underlying) = error else { return false }
            return underlying.description.contains(path)
        }
    }

    @Test func weightsThatDoNotLoadStrictlyNameTheirKeys() throws {
        #expect {
            try ZooModel(contentsOf: fixture("bad_missing_key.h5"))
        } throws: { error in
            guard case ZooModelError.doesNotLoad(_, let strict) = error else { return false }
            return !strict.report.offendingKeys.isEmpty
        }
    }

    @Test func severalFilesGiveTheWorstOutcome() {
        let files = [zooFolder.appendingPathComponent("net.h5").path, fixture("bad_changed_weight.h5"), fixture("bad_random.h5")]
        let outcomes = Verifier.verify(files: files, reading: .inProcess)
        #expect(outcomes.map(\.path) == files)
        #expect(outcomes.map(\.status) == [.passed, .failed, .unreadable])
        #expect(outcomes.worstStatus == .unreadable)
        #expect(outcomes.prefix(2).worstStatus == .failed)
    }
}
