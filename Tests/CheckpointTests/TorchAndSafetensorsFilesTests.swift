import Checkpoint
import Foundation
import JSON
import Tensor
import TestSupport
import Testing

/// torch.save (zip and legacy) and safetensors files written by PyTorch and the safetensors
/// package (Tools/make_torch_fixtures.py), read value by value against what PyTorch recorded,
/// and the hostile or damaged ones refused with a line that names the problem.
@Suite("TorchAndSafetensorsFiles")
struct TorchAndSafetensorsFilesTests {
    static let folder = fixtures.folder.appendingPathComponent("torch")
    static let expected: [String: JSONValue] = {
        let text = (try? String(contentsOf: folder.appendingPathComponent("expected.json"), encoding: .utf8)) ?? "{}"
        return (try? JSONValue.parse(text))?.objectValue ?? [:]
    }()
    static let readable = expected.filter { $0.value["refused"] == nil }.keys.sorted()
    static let refused = expected.filter { $0.value["refused"] != nil }.keys.sorted()

    @Test func fixturesArePresent() {
        #expect(Self.readable.count >= 11)
        #expect(Self.refused.count >= 10)
    }

    @Test(arguments: readable)
    func readsEveryTensorAsPyTorchSavedIt(file: String) throws {
        let expectation = try #require(Self.expected[file])
        let checkpoint = try CheckpointReader.read(Self.folder.appendingPathComponent(file).path)
        let keys = (expectation["keys"]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(!keys.isEmpty)
        let filled = expectation["filled"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if file.hasSuffix(".safetensors") {
            #expect(Set(checkpoint.stateDict.keys) == Set(keys), "safetensors orders by offset")
        } else {
            #expect(checkpoint.stateDict.keys.filter { !filled.contains($0) } == keys, "state_dict order is kept")
        }
        for key in keys {
            let tensor = try #require(checkpoint.stateDict[key], "\(file): \(key)")
            #expect(tensor.shape == expectation["shapes"]?[key]?.arrayValue?.compactMap(\.intValue), "\(file): \(key) shape")
            #expect(tensor.dtype.rawValue == expectation["dtypes"]?[key]?.stringValue, "\(file): \(key) dtype")
            let values = (expectation["values"]?[key]?.arrayValue ?? []).compactMap(\.doubleValue)
            #expect(tensor.storage.doubles() == values, "\(file): \(key) values")
        }
        for key in filled { #expect(checkpoint.stateDict[key]?.dtype == .int64, "\(file): \(key) filled") }
        let container: CheckpointContainer =
            file.hasSuffix(".safetensors") ? .safetensors : (file.contains("legacy") || file.hasSuffix(".bin") ? .torchLegacy : .torchZip)
        #expect(checkpoint.container == container)
        if container != .safetensors { #expect(checkpoint.pickleGlobals.contains("torch._utils._rebuild_tensor_v2")) }
    }

    @Test(arguments: refused)
    func refusesWithALineThatNamesTheProblem(file: String) throws {
        let words = try #require(Self.expected[file]?["refused"]?.stringValue)
        let path = Self.folder.appendingPathComponent(file).path
        let error = #expect(throws: CheckpointError.self) { try CheckpointReader.read(path) }
        let text = error?.description ?? ""
        #expect(text.contains(words), "\(file): \(text)")
        #expect(text.hasPrefix(path), "the message names the file")
    }

    @Test func aPickleThatCallsACommandRunsNothing() throws {
        let marker = "/tmp/zoo_pickle_exploit_marker"
        try? FileManager.default.removeItem(atPath: marker)
        for file in ["exploit_zip.pt", "exploit_legacy.pt"] {
            #expect(throws: CheckpointError.self) { try CheckpointReader.read(Self.folder.appendingPathComponent(file).path) }
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "the pickle's os.system call must never run")
    }

    @Test func wrapperReportsWhatItIgnored() throws {
        let checkpoint = try CheckpointReader.read(Self.folder.appendingPathComponent("wrapper.pt").path)
        #expect(checkpoint.layoutNotes.contains("read the state_dict from the wrapper key 'model_state_dict'"))
        #expect(checkpoint.layoutNotes.contains { $0.contains("epoch") && $0.contains("optimizer_state_dict") })
    }

    @Test func cudaStoragesAreReadAsCPUBytes() throws {
        let checkpoint = try CheckpointReader.read(Self.folder.appendingPathComponent("cuda_zip.pt").path)
        #expect(checkpoint.stateDict["w"]?.scalars == [0, 1, 2, 3])
    }
}
