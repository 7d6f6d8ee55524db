import Foundation
import HDF5
import Testing

@Suite("HDF5Error")
struct HDF5ErrorTests {
    @Test func missingDatasetNamesOperationPathAndHDF5Message() throws {
        try withTemporaryFile { path in
            let root = try HDF5File.create(path).rootGroup()
            let error = #expect(throws: HDF5Error.self) { try root.openDataset("conv1.weight") }
            #expect(error?.operation == "open dataset")
            #expect(error?.path == "/conv1.weight")
            #expect(error?.message.isEmpty == false)
            #expect(error?.message.contains("no message") == false)
        }
    }

    @Test func hdf5FailuresCarryHDF5sMajorAndMinorNumbers() throws {
        try withTemporaryFile { path in
            let root = try HDF5File.create(path).rootGroup()
            let error = try #require(#expect(throws: HDF5Error.self) { try root.openGroup("absent") })
            let major = try #require(error.major)
            let minor = try #require(error.minor)
            #expect(major.number > 0 && minor.number > 0)
            #expect(!major.text.isEmpty && major.text != "?")
            #expect(!minor.text.isEmpty && minor.text != "?")
            // The same failure twice gives the same numbers: they can be matched on.
            let again = #expect(throws: HDF5Error.self) { try root.openGroup("also-absent") }
            #expect(again?.minor == minor)
        }
    }

    @Test func ourOwnChecksHaveNoHDF5Numbers() throws {
        try withTemporaryFile { path in
            let root = try HDF5File.create(path).rootGroup()
            let error = #expect(throws: HDF5Error.self) {
                try write([Float(1), 2, 3], "x", shape: [2, 2], type: .float32, into: root)
            }
            #expect(error?.major == nil)
            #expect(error?.minor == nil)
        }
    }

    @Test func theErrorStackIsClearedAfterAFailure() throws {
        try withTemporaryFile { path in
            let root = try HDF5File.create(path).rootGroup()
            _ = try? root.openDataset("absent")
            try write([Int8(1)], "present", shape: [1], type: .int8, into: root)
            #expect(try root.openDataset("present").shape() == [1])
        }
    }
}

@Suite("HDF5Error kinds")
struct HDF5ErrorKindTests {
    @Test func aMissingFileIsCannotOpenFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-absent-\(UUID().uuidString).h5").path
        let error = #expect(throws: HDF5Error.self) { _ = try HDF5File.openReadOnly(path) }
        #expect(error?.kind == .cannotOpenFile, "\(String(describing: error))")
    }

    @Test func aMissingObjectIsNamedByKind() throws {
        try withTemporaryFile { path in
            let root = try HDF5File.create(path).rootGroup()
            let error = #expect(throws: HDF5Error.self) { try root.openGroup("absent") }
            #expect(error?.kind != nil, "HDF5's minor number is named: \(String(describing: error?.minor))")
        }
    }
}
