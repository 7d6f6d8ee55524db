import Checkpoint
import Foundation
import JSON
import Tensor
import TestSupport
import Testing

/// Files Swift writes must load with the plain h5py one-liner from the format page, value for value.
struct SwiftWrittenFilesTests {
    static func sampleStateDict() throws -> StateDict {
        StateDict([
            ("conv1.weight", Tensor(shape: [2, 1, 2, 2], scalars: [0.5, -1.25, 3, 1e-7, -0.0, 2, 7, 8])),
            ("bn.running_var", try Tensor(shape: [2], storage: .float64([0.1, 1e300]))),
            ("bn.num_batches_tracked", try Tensor(shape: [], storage: .int64([123_456_789_012]))),
            ("half", try Tensor(shape: [3], storage: .float16([0x3C00, 0xC000, 0x0001]))),
            ("brain", try Tensor(shape: [2], storage: .bfloat16([0x3F80, 0xC040]))),
            ("i32", try Tensor(shape: [2], storage: .int32([-5, Int32.max]))),
            ("i16", try Tensor(shape: [1], storage: .int16([-300]))),
            ("i8", try Tensor(shape: [2], storage: .int8([-128, 5]))),
            ("u8", try Tensor(shape: [2], storage: .uint8([0, 255]))),
            ("mask", try Tensor(shape: [2, 2], storage: .bool([true, false, false, true]))),
            ("empty", Tensor(shape: [0, 4], scalars: [])),
        ])
    }

    /// What the format page promises: `{k: v[()] for k, v in h5py.File(p).items() if not k.startswith("__")}`.
    static let oneLiner = """
        import h5py, json, sys, numpy as np
        f = h5py.File(sys.argv[1], "r")
        sd = {k: v[()] for k, v in f.items() if not k.startswith("__")}
        out = {k: {"dtype": str(np.asarray(v).dtype), "shape": list(np.shape(v)),
                   "values": np.asarray(v).astype(np.float64).ravel().tolist(),
                   "attr": f[k].attrs.get("dtype", "")} for k, v in sd.items()}
        out["__order__"] = list(sd)
        out["__manifest__"] = json.loads(f["__manifest__"][()])
        print(json.dumps(out))
        """

    @Test func pythonOneLinerReadsEveryValue() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("model.h5").path
        let stateDict = try Self.sampleStateDict()
        try CheckpointWriter.write(stateDict, manifest: Manifest(arch: "custom"), to: path)

        let result = try JSONValue.parse(try runPython(Self.oneLiner, [path]))
        #expect(result["__order__"]?.arrayValue?.compactMap(\.stringValue) == stateDict.keys)
        let numpyNames: [DType: String] = [
            .float32: "float32", .float64: "float64", .float16: "float16", .bfloat16: "uint16", .int64: "int64",
            .int32: "int32", .int16: "int16", .int8: "int8", .uint8: "uint8", .bool: "bool",
        ]
        for (key, tensor) in stateDict {
            let entry = try #require(result[key], "python did not see \(key)")
            #expect(entry["dtype"]?.stringValue == numpyNames[tensor.dtype], "\(key) dtype")
            #expect(entry["shape"]?.arrayValue?.compactMap(\.intValue) == tensor.shape, "\(key) shape")
            let values = entry["values"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            let expected: [Double]
            if case .bfloat16(let bits) = tensor.storage { expected = bits.map(Double.init) } else { expected = tensor.storage.doubles() }
            #expect(values == expected, "\(key) values")
            if tensor.dtype == .bfloat16 { #expect(entry["attr"]?.stringValue == "bfloat16") }
        }
        let manifest = try #require(result["__manifest__"])
        #expect(manifest["format_version"]?.intValue == 1)
        #expect(manifest["tensors"]?["conv1.weight"]?["sha256"]?.stringValue == stateDict["conv1.weight"]?.sha256)
    }

    @Test func checksumsMatchPythonHashlib() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("model.h5").path
        try CheckpointWriter.write(try Self.sampleStateDict(), to: path)
        let script = """
            import h5py, hashlib, json, sys, numpy as np
            f = h5py.File(sys.argv[1], "r")
            m = json.loads(f["__manifest__"][()])
            bad = [k for k, r in m["tensors"].items()
                   if hashlib.sha256(np.ascontiguousarray(f[k][()]).astype(f[k].dtype.newbyteorder("<")).tobytes()).hexdigest() != r["sha256"]]
            print(json.dumps(bad))
            """
        #expect(try runPython(script, [path]).trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
    }

    @Test func swiftReadsBackWhatItWrote() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("model.h5").path
        let stateDict = try Self.sampleStateDict()
        var manifest = Manifest(arch: "custom", archArgs: ["num_classes": .int(3)])
        manifest.extra["from_the_future"] = .string("kept")
        let reference = ReferenceCase(
            name: "0", input: Tensor(shape: [1, 2], scalars: [1, 2]), output: Tensor(shape: [1], scalars: [3]), absoluteTolerance: 1e-6)
        try CheckpointWriter.write(stateDict, manifest: manifest, referenceCases: [reference], to: path)

        let loaded = try CheckpointReader.read(path)
        #expect(loaded.stateDict == stateDict)
        #expect(loaded.manifest?.extra["from_the_future"] == .string("kept"))
        #expect(loaded.manifest?.archArgs["num_classes"] == .int(3))
        #expect(loaded.referenceCases == [reference])
        let report = IntegrityReport(loaded.stateDict, manifest: loaded.manifest)
        #expect(report.isClean)
        #expect(report.verifiedChecksums == stateDict.count)
    }

    @Test func failedWriteKeepsThePreviousFileAndLeavesNoTemporaries() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("model.h5").path
        let original = try Self.sampleStateDict()
        try CheckpointWriter.write(original, to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let bad = StateDict([("fine", Tensor(shape: [1], scalars: [1])), ("__reserved__", Tensor(shape: [1], scalars: [2]))])
        #expect(throws: CheckpointError.self) { try CheckpointWriter.write(bad, to: path) }
        let slashed = StateDict([("a/b", Tensor(shape: [1], scalars: [1]))])
        #expect(throws: CheckpointError.self) { try CheckpointWriter.write(slashed, to: path) }

        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.h5"])
    }

    @Test func overwriteReplacesTheFileWhole() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("model.h5").path
        try CheckpointWriter.write(try Self.sampleStateDict(), to: path)
        let replacement = StateDict([("only", Tensor(shape: [2], scalars: [4, 5]))])
        try CheckpointWriter.write(replacement, to: path)
        #expect(try CheckpointReader.read(path).stateDict == replacement)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["model.h5"])
    }

    @Test func writingIntoAMissingFolderFailsCleanly() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("no/such/dir/model.h5").path
        #expect(throws: CheckpointError.self) { try CheckpointWriter.write(try Self.sampleStateDict(), to: path) }
    }
}
