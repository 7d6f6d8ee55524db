import Checkpoint
import Foundation
import JSON
import ModelZoo
import NN
import Tensor
import Testing

/// Exports made the way users make them, checked against PyTorch's outputs (the .npy pairs
/// Tools/make_zoo.py wrote with PyTorch).
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
            name: "pair", input: try NumPyFile.read(fixture(base + ".input.npy")), output: try NumPyFile.read(fixture(base + ".expect.npy")))
        let report = Verifier.verify(checkpoint, extra: [pair])
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
        #expect(report.strict.verifiedChecksums == report.checkpoint.stateDict.count)
        #expect(report.resolved?.source == .manifestArch)
    }

    @Test(arguments: zooCheckpoints())
    func zooCheckpointIsRecognisedWithoutItsManifest(file: String) throws {
        let checkpoint = try CheckpointReader.read(zooFolder.appendingPathComponent(file).path)
        let candidate = try Registry.recognise(checkpoint.stateDict)
        #expect(candidate.architecture.name == checkpoint.manifest?.arch)
    }

    @Test(arguments: fixtureNames(prefix: "seq_"))
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

/// A self-describing file must fail when its numbers or its config are wrong.
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

struct StrictLoadingTests {
    @Test func strictLoadRefusesAndNamesEveryProblem() throws {
        let model = try Registry.simpleCNN.build()
        var stateDict = try CheckpointReader.read(zooFolder.appendingPathComponent("simplecnn.h5").path).stateDict
        stateDict["fc2.bias"] = nil
        stateDict["extra"] = Tensor(zeros: [1])
        let error = #expect(throws: StrictLoadError.self) { try model.load(stateDict, modelName: "SimpleCNN") }
        #expect(error?.report.missingKeys == ["fc2.bias"])
        #expect(error?.report.unexpectedKeys == ["extra"])
        #expect(model.exportStateDict()["conv1.weight"]?.scalars.allSatisfy { $0 == 0 } == true, "nothing loaded")
    }

    @Test func nonStrictLoadTakesWhatFitsAndExportsItBack() throws {
        let model = try Registry.simpleCNN.build()
        let original = try CheckpointReader.read(zooFolder.appendingPathComponent("simplecnn.h5").path).stateDict
        var stateDict = original
        stateDict["fc2.bias"] = nil
        let report = try model.load(stateDict, strict: false, modelName: "SimpleCNN")
        #expect(report.missingKeys == ["fc2.bias"])
        let exported = model.exportStateDict()
        #expect(exported.keys == original.keys)
        #expect(exported["conv1.weight"] == original["conv1.weight"])
        #expect(exported["fc2.bias"]?.scalars.allSatisfy { $0 == 0 } == true)
    }
}
