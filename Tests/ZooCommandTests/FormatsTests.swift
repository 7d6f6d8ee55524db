import Checkpoint
import Foundation
import JSON
import TestSupport
import Testing

/// Every command reads torch.save and safetensors files as it reads HDF5; `zoo convert` writes
/// either format; hostile files get exit 2 and one line, and nothing they ask for runs.
@Suite("Formats")
struct FormatsTests {
    static let torchFixtures = Fixtures("CheckpointTests").folder.appendingPathComponent("torch")

    func torchFixture(_ name: String) -> String { Self.torchFixtures.appendingPathComponent(name).path }

    @Test func verifyAndRunReadATorchSaveFile() throws {
        let verify = try zoo("verify", fixture("encdec_torch_save.pt"))
        #expect(verify.status == 0, "\(verify.all)")
        #expect(verify.stdout.contains("encdec(in_channels=3, base=4)"))
        let inspect = try JSONValue.parse(try zoo("inspect", fixture("encdec_torch_save.pt"), "--json").stdout)
        #expect(inspect["container"] == .string("torch zip"))
        #expect(inspect["pickle_globals"]?.arrayValue?.contains(.string("torch._utils._rebuild_tensor_v2")) == true)
    }

    @Test(arguments: [
        "whole_model.pt", "exploit_zip.pt", "exploit_legacy.pt", "truncated_zip.pt", "truncated_legacy.pt",
        "short_storage_zip.pt", "crc_mismatch_zip.pt", "overlap.safetensors", "header_too_long.safetensors", "past_end.safetensors",
    ])
    func hostileOrDamagedFileIsExitTwoWithOneLine(file: String) throws {
        for command in ["verify", "inspect"] {
            let result = try zoo(command, torchFixture(file))
            #expect(result.status == 2, "\(command) \(file): \(result.all)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.hasPrefix("error: cannot read \(torchFixture(file)) as a checkpoint\n"))
        }
    }

    @Test func theExploitMessageNamesTheCallAndNothingRuns() throws {
        let marker = "/tmp/zoo_pickle_exploit_marker"
        try? FileManager.default.removeItem(atPath: marker)
        let result = try zoo("convert", torchFixture("exploit_zip.pt"), "/tmp/zoo-never-written.h5")
        #expect(result.status == 2)
        #expect(result.stderr.contains("refused: the pickle calls posix.system"))
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/zoo-never-written.h5"))
        let model = try zoo("inspect", torchFixture("whole_model.pt"))
        #expect(model.stderr.contains("this file pickles a whole model (class __main__.TinyNet); save model.state_dict() instead"))
    }

    @Test func convertRoundTripsThroughSafetensorsWithManifestAndVectors() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let safetensors = folder.appendingPathComponent("encdec.safetensors").path
        let back = folder.appendingPathComponent("encdec.h5").path
        #expect(try zoo("convert", "Zoo/encdec.h5", safetensors).status == 0)
        let verified = try zoo("verify", safetensors)
        #expect(verified.status == 0, "\(verified.all)")
        #expect(verified.stdout.contains("__tests__/0"), "reference vectors travel in __metadata__")
        #expect(try zoo("convert", safetensors, back).status == 0)
        #expect(try zoo("diff", "Zoo/encdec.h5", back).status == 0)
        let original = try CheckpointReader.read("Zoo/encdec.h5")
        let returned = try CheckpointReader.read(back)
        #expect(returned.stateDict.keys == original.stateDict.keys, "state_dict order survives")
        #expect(returned.referenceCases == original.referenceCases)
        #expect(returned.manifest?.tensors == original.manifest?.tensors)
        #expect(returned.manifest?.arch == "encdec")
    }

    @Test func unrecognisedModelConvertsWithANote() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("w.safetensors").path
        let result = try zoo("convert", torchFixture("wrapper.pt"), output)
        #expect(result.status == 0, "\(result.all)")
        #expect(result.stdout.contains("no model recognised"))
        #expect(try CheckpointReader.read(output).stateDict.count == 7)
    }

    @Test func inputThatFailsItsChecksumsIsNotConverted() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.safetensors").path
        let result = try zoo("convert", fixture("bad_changed_weight.h5"), output)
        #expect(result.status == 1, "\(result.all)")
        #expect(result.stderr.contains("encoder.0.weight"))
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty, "no temporary file is left")
    }

    @Test func convertNeedsAKnownOutputExtension() throws {
        let result = try zoo("convert", "Zoo/net.h5", "/tmp/zoo-out.txt")
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: OUT must end in .h5, .safetensors or .pt2"))
    }

    @Test func importReadsATorchSaveFile() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("imported.h5").path
        let result = try zoo("import", torchFixture("dataparallel.pth"), "--arch", "encdec", "--output", output)
        #expect(result.status == 1, "a TinyNet is not an encdec: \(result.all)")
        let plain = try zoo("import", fixture("encdec_torch_save.pt"), "--output", output)
        #expect(plain.status == 0, "\(plain.all)")
        #expect(try CheckpointReader.read(output).container == .hdf5)
    }
}
