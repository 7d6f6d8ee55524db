import Checkpoint
import Foundation
import Tensor
import TestSupport
import Testing

struct NumPyFileTests {
    func write(_ header: String, payload: [UInt8] = [], to folder: URL) -> String {
        var text = header
        text += String(repeating: " ", count: (64 - (10 + text.utf8.count + 1) % 64) % 64) + "\n"
        let bytes: [UInt8] =
            [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(text.utf8.count & 0xFF), UInt8(text.utf8.count >> 8)] + Array(text.utf8) + payload
        let path = folder.appendingPathComponent("\(UUID().uuidString).npy").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    @Test func roundTripsEveryNumPyDType() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for dtype in DType.allCases where dtype != .bfloat16 {
            let tensor = Tensor(shape: [2, 3], scalars: [0, 1, -2, 3, 4, 5]).converted(to: dtype)
            let path = folder.appendingPathComponent("\(dtype).npy").path
            try NumPyFile.write(tensor, to: path)
            #expect(try NumPyFile.read(path) == tensor, "\(dtype)")
        }
    }

    @Test func numpyReadsWhatWeWrite() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("x.npy").path
        try NumPyFile.write(Tensor(shape: [2, 2], scalars: [1, 2.5, -3, 4]), to: path)
        let out = try runPython("import numpy as np, sys; a = np.load(sys.argv[1]); print(a.dtype, a.shape, a.ravel().tolist())", [path])
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "float32 (2, 2) [1.0, 2.5, -3.0, 4.0]")
    }

    @Test func bigEndianAndScalarHeadersAreRead() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let big = write(
            "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", payload: [0x3F, 0x80, 0, 0, 0xC0, 0, 0, 0], to: folder)
        #expect(try NumPyFile.read(big).scalars == [1, -2])
        let scalar = write("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", payload: [7, 0, 0, 0, 0, 0, 0, 0], to: folder)
        #expect(try NumPyFile.read(scalar) == (try Tensor(shape: [], storage: .int64([7]))))
    }

    @Test(arguments: [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 4), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }",
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
        "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }",
        "{'fortran_order': False}",
    ])
    func damagedOrUnsupportedHeadersThrow(header: String) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = write(header, payload: [0, 0, 0, 0], to: folder)
        #expect(throws: NumPyFile.Error.self) { try NumPyFile.read(path) }
    }
}
