import Checkpoint
import Foundation
import JSON
import ModelZoo
import NN
import Tensor
import TestSupport
import Testing

@Suite("RegistryLoading")
struct RegistryLoadingTests {
    @Test func strictLoadRefusesAndNamesEveryProblem() throws {
        let model = try Registry.simpleCNN.build()
        var stateDict = try CheckpointReader.read(zooFolder.appendingPathComponent("simplecnn.h5").path).stateDict
        stateDict["fc2.bias"] = nil
        stateDict["extra"] = Tensor(zeros: [1])
        let error = #expect(throws: LoadError.self) { try model.load(stateDict, modelName: "SimpleCNN") }
        #expect(error?.report.missingKeys == ["fc2.bias"])
        #expect(error?.report.unexpectedKeys == ["extra"])
        #expect(model.stateDict()["conv1.weight"]?.scalars.allSatisfy { $0 == 0 } == true, "nothing loaded")
    }

    @Test func nonStrictLoadTakesWhatFitsAndExportsItBack() throws {
        let model = try Registry.simpleCNN.build()
        let original = try CheckpointReader.read(zooFolder.appendingPathComponent("simplecnn.h5").path).stateDict
        var stateDict = original
        stateDict["fc2.bias"] = nil
        let report = try model.load(stateDict, strict: false, modelName: "SimpleCNN")
        #expect(report.missingKeys == ["fc2.bias"])
        let exported = model.stateDict()
        #expect(exported.keys == original.keys)
        #expect(exported["conv1.weight"] == original["conv1.weight"])
        #expect(exported["fc2.bias"]?.scalars.allSatisfy { $0 == 0 } == true)
    }
}
