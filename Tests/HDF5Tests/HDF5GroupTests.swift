import HDF5
import Testing

@Suite("HDF5Group")
struct HDF5GroupTests {
    @Test func membersKeepCreationOrderAndKind() throws {
        try withTemporaryFile { path in
            do {
                let root = try HDF5File.create(path).rootGroup()
                try write([Float(1)], "z.weight", shape: [1], type: .float32, into: root)
                let nested = try root.createGroup("features")
                try write([Float(2)], "0.weight", shape: [1], type: .float32, into: nested)
                try write([Float(3)], "a.bias", shape: [1], type: .float32, into: root)
            }
            let root = try HDF5File.openReadOnly(path).rootGroup()
            let members = try root.members()
            #expect(members.map(\.name) == ["z.weight", "features", "a.bias"])
            #expect(members.map(\.kind) == [.dataset, .group, .dataset])
            let nested = try root.openGroup("features")
            #expect(nested.path == "/features")
            #expect(try nested.openDataset("0.weight").path == "/features/0.weight")
        }
    }

    /// A listed dataset opens at its link's address as it does by name (readers of many datasets
    /// open them so); a group's address is not a dataset.
    @Test func aListedDatasetOpensByAddressAsByName() throws {
        try withTemporaryFile { path in
            do {
                let root = try HDF5File.create(path).rootGroup()
                try write([Float(1), 2, 3], "w", shape: [3], type: .float32, into: root)
                _ = try root.createGroup("g")
            }
            let root = try HDF5File.openReadOnly(path).rootGroup()
            let members = try root.members()
            let dataset = try #require(members.first { $0.name == "w" })
            let byAddress = try root.openDataset(dataset)
            #expect(byAddress.path == "/w")
            #expect(try byAddress.read(as: .float32) == root.openDataset("w").read(as: .float32))
            #expect(try byAddress.shape() == [3])
            let group = try #require(members.first { $0.name == "g" })
            if group.address != nil { #expect(throws: HDF5Error.self) { try root.openDataset(group) } }
        }
    }

    @Test func openingADatasetAsAGroupFails() throws {
        try withTemporaryFile { path in
            let root = try HDF5File.create(path).rootGroup()
            try write([Float(1)], "w", shape: [1], type: .float32, into: root)
            #expect(throws: HDF5Error.self) { try root.openGroup("w") }
        }
    }
}
