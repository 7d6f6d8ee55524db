import Foundation
import HDF5
import TestSupport
import Testing

@Suite("HDF5File")
struct HDF5FileTests {
    @Test func createdFileReopensReadOnlyWithItsContents() throws {
        try withTemporaryFile { path in
            do {
                let file = try HDF5File.create(path)
                try write([Int32(4)], "x", shape: [1], type: .int32, into: try file.rootGroup())
                try file.flush()
            }
            let file = try HDF5File.openReadOnly(path)
            #expect(file.path == path)
            #expect(try file.rootGroup().members().map(\.name) == ["x"])
        }
    }

    @Test func aFileThatIsNotHDF5IsNamedAsSuch() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("text.h5").path
        try "not hdf5 at all".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: HDF5Error.self) { try HDF5File.openReadOnly(path) }
        #expect(error?.operation == "open file")
        #expect(error?.message.contains("not an HDF5 file") == true)
    }

    @Test func aMissingFileFailsWithHDF5sMessage() {
        let error = #expect(throws: HDF5Error.self) { try HDF5File.openReadOnly("/nonexistent/zoo/file.h5") }
        #expect(error?.path == "/nonexistent/zoo/file.h5")
    }

    @Test func createIntoAMissingFolderFails() {
        #expect(throws: HDF5Error.self) { try HDF5File.create("/nonexistent/zoo/new.h5") }
    }
}
