import Foundation
import HDF5
import Testing

struct HDF5ErrorTests {
    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("zoo-hdf5-\(UUID().uuidString).h5").path
    }

    @Test func missingDatasetNamesOperationPathAndHDF5Message() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try HDF5File.create(path)
        let root = try file.rootGroup()
        let error = #expect(throws: HDF5Error.self) { try root.openDataset("conv1.weight") }
        #expect(error?.operation == "open dataset")
        #expect(error?.path == "/conv1.weight")
        #expect(error?.message.isEmpty == false)
        #expect(error?.message.contains("no message") == false)
    }

    @Test func writeReadConvertsTypesThroughHDF5() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let root = try HDF5File.create(path).rootGroup()
            let values: [Int16] = [-3, 7, 300]
            try values.withUnsafeBytes { try root.createDataset("x", shape: [3], type: .int16, elements: $0) }
            try root.createStringDataset("s", value: "héllo")
            try root.setAttribute("atol", number: 0.25)
            try root.setAttribute("name", string: "zoo")
        }
        let root = try HDF5File.openReadOnly(path).rootGroup()
        let dataset = try root.openDataset("x")
        #expect(try dataset.elementType() == .integer(bytes: 2, signed: true))
        let asDouble = try dataset.read(as: .float64).withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        #expect(asDouble == [-3, 7, 300])
        #expect(try root.openDataset("s").readString() == "héllo")
        #expect(try root.numberAttribute("atol") == 0.25)
        #expect(try root.stringAttribute("name") == "zoo")
        #expect(try root.stringAttribute("absent") == nil)
        #expect(try root.members().map(\.name) == ["x", "s"])
    }

    @Test func shapeMismatchIsRejectedBeforeHDF5() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let root = try HDF5File.create(path).rootGroup()
        let values: [Float] = [1, 2, 3]
        #expect(throws: HDF5Error.self) {
            try values.withUnsafeBytes { try root.createDataset("x", shape: [2, 2], type: .float32, elements: $0) }
        }
    }
}
