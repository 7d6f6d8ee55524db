import HDF5
import Testing

@Suite("HDF5Dataset")
struct HDF5DatasetTests {
    @Test func writeReadConvertsTypesThroughHDF5() throws {
        try withTemporaryFile { path in
            do {
                let root = try HDF5File.create(path).rootGroup()
                try write([Int16(-3), 7, 300], "x", shape: [3], type: .int16, into: root)
                _ = try root.createStringDataset("s", value: "héllo")
            }
            let root = try HDF5File.openReadOnly(path).rootGroup()
            let dataset = try root.openDataset("x")
            #expect(try dataset.elementType() == .integer(bytes: 2, signed: true))
            #expect(try read(dataset, as: .float64, Double.self) == [-3, 7, 300])
            #expect(try root.openDataset("s").readString() == "héllo")
            #expect(try root.openDataset("s").elementType() == .string)
        }
    }

    @Test(arguments: [[], [0], [2, 3], [1, 1, 4, 1]])
    func shapeRoundTrips(shape: [Int]) throws {
        try withTemporaryFile { path in
            let count = shape.reduce(1, *)
            do {
                let root = try HDF5File.create(path).rootGroup()
                try write([Float](repeating: 1.5, count: count), "t", shape: shape, type: .float32, into: root)
            }
            let dataset = try HDF5File.openReadOnly(path).rootGroup().openDataset("t")
            #expect(try dataset.shape() == shape)
            #expect(try read(dataset, as: .float32, Float.self) == [Float](repeating: 1.5, count: count))
        }
    }

    @Test func floatTypesAreReportedByWidth() throws {
        try withTemporaryFile { path in
            do {
                let root = try HDF5File.create(path).rootGroup()
                try write([Double(1)], "f64", shape: [1], type: .float64, into: root)
                try write([UInt16(0x3C00)], "f16", shape: [1], type: .float16, into: root)
                try write([Bool(true)], "b", shape: [1], type: .bool, into: root)
            }
            let root = try HDF5File.openReadOnly(path).rootGroup()
            #expect(try root.openDataset("f64").elementType() == .float(bytes: 8))
            #expect(try root.openDataset("f16").elementType() == .float(bytes: 2))
            #expect(try root.openDataset("b").elementType() == .boolean)
            #expect(try read(root.openDataset("f16"), as: .float32, Float.self) == [1])
        }
    }

    @Test func readingNumbersAsAStringFails() throws {
        try withTemporaryFile { path in
            let root = try HDF5File.create(path).rootGroup()
            try write([Int8(1)], "n", shape: [1], type: .int8, into: root)
            let error = #expect(throws: HDF5Error.self) { try root.openDataset("n").readString() }
            #expect(error?.message.contains("does not hold strings") == true)
        }
    }
}
