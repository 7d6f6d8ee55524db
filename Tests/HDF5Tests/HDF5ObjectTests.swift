import HDF5
import Testing

@Suite("HDF5Object")
struct HDF5ObjectTests {
    @Test func attributesRoundTripOnGroupsAndDatasets() throws {
        try withTemporaryFile { path in
            do {
                let root = try HDF5File.create(path).rootGroup()
                try root.setAttribute("atol", number: 0.25)
                try root.setAttribute("name", string: "zoo")
                try write([Float(1)], "w", shape: [1], type: .float32, into: root)
                try root.openDataset("w").setAttribute("dtype", string: "bfloat16")
            }
            let root = try HDF5File.openReadOnly(path).rootGroup()
            #expect(try root.numberAttribute("atol") == 0.25)
            #expect(try root.stringAttribute("name") == "zoo")
            #expect(try root.hasAttribute("name"))
            #expect(try !root.hasAttribute("absent"))
            #expect(try root.stringAttribute("absent") == nil)
            #expect(try root.numberAttribute("absent") == nil)
            #expect(try root.openDataset("w").stringAttribute("dtype") == "bfloat16")
        }
    }
}
