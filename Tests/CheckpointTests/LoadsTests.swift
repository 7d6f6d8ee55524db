import Checkpoint
import Foundation
import JSON
import Tensor
import TestSupport
import Testing

/// The reading paths issue 19 changed (HDF5 straight into the tensor, safetensors and legacy
/// storages copied in pieces, the contained hand-back consumed as it is read), checked value by
/// value against what NumPy wrote: tensors larger than the pieces, sizes that end mid-page, and
/// thousands of small tensors of every width, read in-process and contained.
@Suite("Loads")
struct LoadsTests {
    /// Writes the file with h5py or the safetensors package and prints each tensor's SHA-256
    /// over its little-endian bytes, its dtype and its shape.
    static let writer =
        pythonArrayWriter + """
            import hashlib, json, sys
            import numpy as np
            path = sys.argv[1]
            rng = np.random.default_rng(19)
            arrays = {
                "big.a": rng.standard_normal(9 * 2**18 + 1, dtype=np.float32),
                "big.b": rng.standard_normal((3, 1000, 1001)).astype(np.float32),
                "mid": rng.standard_normal(2**18 + 3).astype(np.float64),
            }
            kinds = [np.float32, np.float16, np.int64, np.uint8, np.bool_]
            for i in range(3000):
                dtype = kinds[i % len(kinds)]
                shape = (int(rng.integers(1, 40)), int(rng.integers(1, 9)))
                values = rng.standard_normal(shape) * 100
                arrays[f"small.{i}"] = (values > 0) if dtype is np.bool_ else values.astype(dtype)
            write(path, arrays)
            names = {np.float32: "float32", np.float16: "float16", np.float64: "float64", np.int64: "int64", np.uint8: "uint8",
                     np.bool_: "bool"}
            print(json.dumps({key: {"sha256": hashlib.sha256(np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes()).hexdigest(),
                                    "dtype": names[value.dtype.type], "shape": list(value.shape)} for key, value in arrays.items()}))
            """

    @Test(arguments: ["h5", "safetensors"])
    func bigAndManySmallTensorsReadAsNumPyWroteThem(kind: String) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("loads.\(kind)").path
        let expected = try #require(try JSONValue.parse(try runPython(Self.writer, [path])).objectValue)
        #expect(expected.count == 3003)
        let inProcess = try CheckpointReader.read(path)
        let contained = try ContainedReading.read(path, timeout: 120, reader: zooExecutable)
        for (how, checkpoint) in [("in-process", inProcess), ("contained", contained)] {
            #expect(Set(checkpoint.stateDict.keys) == Set(expected.keys), "\(how)")
            for (key, record) in expected {
                let tensor = try #require(checkpoint.stateDict[key], "\(how): \(key)")
                #expect(tensor.dtype.rawValue == record["dtype"]?.stringValue, "\(how): \(key)")
                #expect(tensor.shape == record["shape"]?.arrayValue?.compactMap(\.intValue), "\(how): \(key)")
                #expect(tensor.sha256 == record["sha256"]?.stringValue, "\(how): \(key)")
            }
        }
        #expect(contained.stateDict == inProcess.stateDict)
    }

    /// Files PyTorch wrote (views and shared storages, every dtype, .pt2 weights) come back from
    /// the reading child exactly as an in-process read gives them (whose values the torch and
    /// PT2 suites check against PyTorch's).
    @Test(arguments: [
        "torch/views_legacy.pt", "torch/views_zip.pt", "torch/dtypes_legacy.pt", "torch/dtypes_zip.pt", "torch/dtypes.safetensors",
        "pt2/encdec.pt2",
    ])
    func containedReadsEqualInProcessReads(file: String) throws {
        let path = fixtures.path(file)
        let inProcess = try CheckpointReader.read(path)
        let contained = try ContainedReading.read(path, timeout: 60, reader: zooExecutable)
        #expect(contained.stateDict == inProcess.stateDict)
        #expect(contained.container == inProcess.container)
        #expect(contained.programText == inProcess.programText)
    }
}
