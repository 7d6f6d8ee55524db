import Checkpoint
import Foundation
import JSON
import Tensor
import Testing

/// Files written by Tools/make_interop_fixtures.py with plain h5py, checked value by value
/// against the expected.json the same script wrote.
struct PythonWrittenFilesTests {
    static let folder = fixtures.folder.appendingPathComponent("interop")
    static let expected: JSONValue = {
        let text = (try? String(contentsOf: folder.appendingPathComponent("expected.json"), encoding: .utf8)) ?? "{}"
        return (try? JSONValue.parse(text)) ?? .object([:])
    }()
    static let fileNames = (expected.objectValue ?? [:]).keys.sorted()

    @Test func fixturesArePresent() {
        #expect(Self.fileNames.count >= 15)
    }

    @Test(arguments: fileNames)
    func everyValueMatches(fileName: String) throws {
        let loaded = try CheckpointReader.read(Self.folder.appendingPathComponent(fileName).path)
        let keys = try #require(Self.expected[fileName]?["keys"]?.objectValue)
        #expect(Set(loaded.stateDict.keys) == Set(keys.keys), "keys of \(fileName)")
        for (key, record) in keys {
            let tensor = try #require(loaded.stateDict[key], "\(fileName): missing \(key)")
            expectTensor(tensor, equals: record, context: "\(fileName) \(key)")
        }
    }

    @Test func creationOrderIsKept() throws {
        let loaded = try CheckpointReader.read(Self.folder.appendingPathComponent("ordered.h5").path)
        let order = (Self.expected["ordered.h5"]?["order"]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(order.count == 9)
        #expect(loaded.stateDict.keys == order)
    }

    @Test func filledBatchCounterFollowsRunningVar() throws {
        let loaded = try CheckpointReader.read(Self.folder.appendingPathComponent("old_batchnorm.h5").path)
        let keys = loaded.stateDict.keys
        let position = try #require(keys.firstIndex(of: "bn1.running_var"))
        #expect(keys[position + 1] == "bn1.num_batches_tracked")
        #expect(loaded.layoutNotes.contains { $0.contains("num_batches_tracked") })
    }

    @Test func dataParallelPrefixIsStrippedAndNoted() throws {
        let loaded = try CheckpointReader.read(Self.folder.appendingPathComponent("dataparallel.h5").path)
        #expect(loaded.stateDict.keys.allSatisfy { !$0.hasPrefix("module.") })
        #expect(loaded.storedKeys["conv1.weight"] == "module.conv1.weight")
        #expect(loaded.layoutNotes.contains { $0.contains("module.") })
    }

    @Test func asciiManifestAndReferenceVectorsAreRead() throws {
        let loaded = try CheckpointReader.read(Self.folder.appendingPathComponent("manifest_ascii.h5").path)
        let manifest = try #require(loaded.manifest)
        #expect(manifest.arch == "custom")
        #expect(manifest.extra["future_field"] == .object(["kept": .bool(true)]))
        #expect(loaded.referenceCases.count == 1)
        let first = try #require(loaded.referenceCases.first)
        #expect(first.input.shape == [1, 4])
        #expect(first.absoluteTolerance == Self.expected["manifest_ascii.h5"]?["atol"]?.doubleValue)
        let rtol = try #require(first.relativeTolerance)
        #expect(abs(rtol - 0.001) < 1e-9)
    }
}

func expectTensor(_ tensor: Tensor, equals record: JSONValue, context: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(tensor.dtype.rawValue == record["dtype"]?.stringValue, "\(context): dtype", sourceLocation: sourceLocation)
    #expect(tensor.shape == record["shape"]?.arrayValue?.compactMap(\.intValue), "\(context): shape", sourceLocation: sourceLocation)
    let values = record["values"]?.arrayValue?.compactMap(\.doubleValue) ?? []
    let actual = tensor.storage.doubles()
    #expect(actual.count == values.count, "\(context): count", sourceLocation: sourceLocation)
    let mismatches = zip(actual, values).enumerated().filter { $0.element.0 != $0.element.1 }
    #expect(
        mismatches.isEmpty,
        "\(context): first mismatch \(mismatches.first.map { "at \($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")",
        sourceLocation: sourceLocation)
}
