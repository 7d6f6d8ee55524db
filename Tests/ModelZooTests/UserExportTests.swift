import Checkpoint
import Foundation
import JSON
import ModelZoo
import NN
import Tensor
import TestSupport
import Testing

/// Exports made the way users make them, checked against PyTorch's outputs (the .npy pairs
/// Tools/make_zoo.py wrote with PyTorch).
@Suite("UserExport")
struct UserExportTests {
    static let expectations: [String: JSONValue] = {
        let text = (try? String(contentsOfFile: fixture("user_exports.json"), encoding: .utf8)) ?? "{}"
        return (try? JSONValue.parse(text))?.objectValue ?? [:]
    }()

    @Test func fixturesArePresent() {
        #expect(Self.expectations.count >= 8)
    }

    @Test(arguments: expectations.keys.sorted())
    func recognisedAndMatchesPyTorch(file: String) throws {
        let checkpoint = try CheckpointReader.read(fixture(file))
        #expect(checkpoint.manifest == nil, "a plain export has no manifest")
        let base = String(file.dropLast(3))
        let pair = ReferenceCase(
            name: "pair", input: try NumPyFile.read(fixture(base + ".input.npy")), output: try NumPyFile.read(fixture(base + ".expect.npy"))
        )
        let report = Verifier.verify(checkpoint, options: VerificationOptions(extra: [pair]))
        let expected = try #require(Self.expectations[file])
        #expect(report.resolved?.architecture?.name == expected["arch"]?.stringValue)
        #expect(report.resolved?.source == .recognised)
        for (name, value) in expected["args"]?.objectValue ?? [:] {
            #expect(report.resolved?.arguments[name] == value.intValue, "\(file): inferred \(name)")
        }
        #expect(report.strict.isClean, "\(report.strict)")
        #expect(report.references.count == 1)
        #expect(report.references.allSatisfy { $0.passed }, "\(report.references.map { "\($0.maxAbsoluteError) \($0.error ?? "")" })")
        #expect(report.passed)
    }

    @Test(arguments: zooCheckpoints())
    func zooCheckpointPassesOnItsPyTorchVectors(file: String) throws {
        let report = Verifier.verify(try CheckpointReader.read(zooFolder.appendingPathComponent(file).path))
        #expect(report.passed, "\(report.strict) \(report.references.map(\.maxAbsoluteError))")
        #expect(!report.references.isEmpty)
        #expect(report.strict.integrity.verifiedChecksums == report.checkpoint.stateDict.count)
        #expect(report.resolved?.source == .manifestArch)
    }

    @Test(arguments: zooCheckpoints())
    func zooCheckpointIsRecognisedWithoutItsManifest(file: String) throws {
        let checkpoint = try CheckpointReader.read(zooFolder.appendingPathComponent(file).path)
        let candidate = try Registry.recognise(checkpoint.stateDict)
        #expect(candidate.architecture.name == checkpoint.manifest?.arch)
    }

    @Test(arguments: fixtures.names(prefix: "seq_"))
    func selfDescribingSequentialRunsFromModelConfig(file: String) throws {
        let report = Verifier.verify(try CheckpointReader.read(fixture(file)))
        #expect(report.resolved?.source == .modelConfig)
        #expect(report.passed, "\(report.resolutionError ?? "") \(report.strict) \(report.references.map(\.maxAbsoluteError))")
        #expect(!report.references.isEmpty)
    }

    @Test func unknownKeysListTheNearestCandidates() throws {
        var stateDict = try CheckpointReader.read(zooFolder.appendingPathComponent("simplecnn.h5").path).stateDict
        stateDict["fc3.weight"] = Tensor(zeros: [2, 2])
        let error = #expect(throws: ModelZooError.self) { try Registry.recognise(stateDict) }
        let text = error?.description ?? ""
        #expect(text.contains("simplecnn(num_classes=10): 1 unexpected (fc3.weight)"), "\(text)")
    }

    @Test func resnet18KeysAndShapesAreTorchvisions() throws {
        let text = try String(contentsOfFile: fixture("resnet18_torchvision_keys.json"), encoding: .utf8)
        let torchvision = try #require(try JSONValue.parse(text).arrayValue).map { entry -> ExpectedTensor in
            let items = entry.arrayValue ?? []
            return ExpectedTensor(
                key: items[0].stringValue ?? "", shape: items[1].arrayValue?.compactMap(\.intValue) ?? [],
                dtype: DType(rawValue: items[2].stringValue ?? "") ?? .bool)
        }
        #expect(torchvision.count == 122)
        #expect(try Registry.resnet18.expectedTensors() == torchvision)
        #expect(try Registry.resnet18.build().parameterCount == 11_689_512)
    }
}
