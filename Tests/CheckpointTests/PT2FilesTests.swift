import Checkpoint
import Foundation
import JSON
import Tensor
import TestSupport
import Testing

/// torch.export archives (.pt2) written by `torch.export.save` (Tools/make_pt2_fixtures.py): the
/// weights under their state_dict names, the program summarised as PyTorch recorded it, and
/// archives zoo must not trust refused.
@Suite("PT2Files")
struct PT2FilesTests {
    static let folder = fixtures.folder.appendingPathComponent("pt2")
    static let expected: [String: JSONValue] = {
        let text = (try? String(contentsOf: folder.appendingPathComponent("expected.json"), encoding: .utf8)) ?? "{}"
        return (try? JSONValue.parse(text))?.objectValue ?? [:]
    }()

    @Test(arguments: expected.keys.sorted())
    func readsTheStateDictAndTheProgramAsPyTorchWroteThem(name: String) throws {
        let expectation = try #require(Self.expected[name])
        let checkpoint = try CheckpointReader.read(Self.folder.appendingPathComponent(name + ".pt2").path)
        #expect(checkpoint.container == .pt2)
        let stateDict = try #require(expectation["state_dict"]?.objectValue)
        #expect(Set(checkpoint.stateDict.keys) == Set(stateDict.keys))
        for (key, description) in stateDict {
            let tensor = try #require(checkpoint.stateDict[key], "\(name): \(key)")
            #expect(tensor.shape == description["shape"]?.arrayValue?.compactMap(\.intValue), "\(name): \(key)")
            #expect(tensor.dtype.rawValue == description["dtype"]?.stringValue, "\(name): \(key)")
        }
        let operators = try #require(expectation["operators"]?.objectValue).sorted { $0.key < $1.key }
        #expect(
            checkpoint.metadata["program_operators"] == operators.map { "\($0.key) x\($0.value.intValue ?? 0)" }.joined(separator: ", "))
        #expect(checkpoint.metadata["program_torch_version"] == expectation["torch_version"]?.stringValue)
    }

    @Test(arguments: expected.keys.sorted())
    func theWeightsAreTheValuesPyTorchStored(name: String) throws {
        let checkpoint = try CheckpointReader.read(Self.folder.appendingPathComponent(name + ".pt2").path)
        for (key, description) in try #require(Self.expected[name]?["state_dict"]?.objectValue) {
            let first = (description["first"]?.arrayValue ?? []).compactMap { $0.doubleValue ?? $0.intValue.map(Double.init) }
            let tensor = try #require(checkpoint.stateDict[key])
            #expect(tensor.scalars.prefix(first.count).map(Double.init) == first, "\(name): \(key)")
        }
    }

    /// `data/sample_inputs/model.pt` holds the example `torch.export.export(model, (x,))` was
    /// given: the generator saved the same x as `<name>.input.npy`.
    @Test(arguments: expected.keys.sorted())
    func theSampleInputIsTheExampleTheProgramWasExportedWith(name: String) throws {
        let checkpoint = try CheckpointReader.read(Self.folder.appendingPathComponent(name + ".pt2").path)
        let example = try NumPyFile.read(Self.folder.appendingPathComponent(name + ".input.npy").path)
        #expect(checkpoint.sampleInputs == [example])
        let shape = Self.expected[name]?["sample_input_shape"]?.arrayValue?.compactMap(\.intValue)
        #expect(checkpoint.sampleInputs.first?.shape == shape)
    }

    /// Kept bit for bit in zoo's formats (`__sample_inputs__`), and written back into a .pt2.
    @Test(arguments: ["h5", "safetensors", "pt2"])
    func sampleInputsTravelIntoEveryFormatZooWrites(suffix: String) throws {
        let original = try CheckpointReader.read(Self.folder.appendingPathComponent("small_unet.pt2").path)
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("small_unet.\(suffix)").path
        var manifest = Manifest()
        manifest.program = try JSONValue.parse(try #require(original.programText))
        try CheckpointWriter.write(
            original.stateDict, manifest: manifest, to: path, format: CheckpointWriter.format(forPath: path),
            sampleInputs: original.sampleInputs)
        let back = try CheckpointReader.read(path)
        #expect(!back.sampleInputs.isEmpty)
        #expect(back.sampleInputs == original.sampleInputs)
    }

    @Test func aNewerSchemaIsRefused() {
        #expect {
            try CheckpointReader.read(Self.folder.appendingPathComponent("schema_too_new.pt2").path)
        } throws: { error in
            guard case CheckpointError.refused(_, .exportSchemaTooNew(let major, _)) = error else { return false }
            return major == 99
        }
    }

    @Test func aPickledWeightIsRefusedAndNothingIsUnpickled() {
        #expect {
            try CheckpointReader.read(Self.folder.appendingPathComponent("pickled_weight.pt2").path)
        } throws: { error in
            guard case CheckpointError.refused(_, .pickledExportWeight(let key)) = error else { return false }
            return key == "encoder.0.weight"
        }
    }

    @Test func aTruncatedArchiveIsDamaged() {
        #expect {
            try CheckpointReader.read(Self.folder.appendingPathComponent("truncated.pt2").path)
        } throws: { error in
            guard case CheckpointError.damaged = error else { return false }
            return true
        }
    }

    /// Entries are read and checked in pieces (512 KiB): one flipped byte in any piece of
    /// graycnn's 2 MiB weight, first, inside, last byte of a piece or of the entry, fails its
    /// CRC-32, while the file as written reads (the readsTheStateDict test).
    @Test(arguments: [0, 524_287, 524_288, 1_500_000, 2_097_151])
    func aFlippedByteInAnyPieceOfABigEntryFailsItsCRC(offset: Int) throws {
        var bytes = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent("graycnn.pt2")))
        let name = Array("graycnn/data/weights/weight_4".utf8)
        // The local header: signature, 22 bytes, the name's length and the extra field's, the name.
        let header = try #require(
            bytes.indices.first { start in
                bytes[start] == 0x50 && start + 30 + name.count <= bytes.count && bytes[start..<start + 4] == [0x50, 0x4B, 0x03, 0x04]
                    && Array(bytes[start + 30..<start + 30 + name.count]) == name
            })
        let nameLength = Int(bytes[header + 26]) | Int(bytes[header + 27]) << 8
        let extraLength = Int(bytes[header + 28]) | Int(bytes[header + 29]) << 8
        let data = header + 30 + nameLength + extraLength
        try #require(data + 2_097_152 <= bytes.count)
        bytes[data + offset] ^= 0x10
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("flipped.pt2").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect {
            try CheckpointReader.read(path)
        } throws: { error in
            guard case CheckpointError.damaged(_, let reason) = error else { return false }
            return reason.contains("graycnn/data/weights/weight_4 fails its CRC-32 check")
        }
    }
}
