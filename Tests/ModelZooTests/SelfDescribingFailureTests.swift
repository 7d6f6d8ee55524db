import Checkpoint
import Foundation
import JSON
import ModelZoo
import NN
import Tensor
import TestSupport
import Testing

/// A self-describing file must fail when its numbers or its config are wrong.
@Suite("SelfDescribingFailure")
struct SelfDescribingFailureTests {
    @Test func alteredReferenceOutputFails() throws {
        var checkpoint = try CheckpointReader.read(fixture("seq_decoder.h5"))
        var output = checkpoint.referenceCases[0].output.scalars
        output[3] += 0.01
        checkpoint.referenceCases[0].output = Tensor(shape: checkpoint.referenceCases[0].output.shape, scalars: output)
        let report = Verifier.verify(checkpoint)
        #expect(!report.passed)
        #expect(report.references.first?.passed == false)
        #expect(abs((report.references.first?.maxAbsoluteError ?? 0) - 0.01) < 1e-3)
    }

    @Test func unknownLayerInModelConfigIsNamed() throws {
        var checkpoint = try CheckpointReader.read(fixture("seq_mixed.h5"))
        var config = try #require(checkpoint.manifest?.modelConfig?.objectValue)
        var layers = try #require(config["layers"]?.arrayValue)
        layers[3] = .object(["type": .string("GELU")])
        config["layers"] = .array(layers)
        checkpoint.manifest?.modelConfig = .object(config)
        let report = Verifier.verify(checkpoint)
        #expect(!report.passed)
        #expect(report.resolutionError?.contains("GELU") == true)
    }
}
