import HDF5
import Tensor

/// Reads and writes the `__tests__` group: `input_N` / `output_N` pairs with optional `atol` and
/// `rtol` attributes on the group (for all pairs) or on an `output_N` dataset (for that pair).
enum ReferenceVectorIO {
    static let groupName = "__tests__"

    static func read(_ group: HDF5Group, path: String) throws -> [ReferenceCase] {
        let members = try group.members()
        let names = Set(members.filter { $0.kind == .dataset }.map(\.name))
        let groupAtol = try group.numberAttribute("atol")
        let groupRtol = try group.numberAttribute("rtol")
        var cases: [ReferenceCase] = []
        let indices = names.compactMap { name -> Int? in
            guard name.hasPrefix("input_") else { return nil }
            return Int(name.dropFirst("input_".count))
        }.sorted()
        for index in indices {
            guard names.contains("output_\(index)") else {
                throw CheckpointError.invalidReferenceVectors(path: path, reason: "input_\(index) has no output_\(index)")
            }
            let input = try group.openDataset("input_\(index)")
            let output = try group.openDataset("output_\(index)")
            cases.append(
                ReferenceCase(
                    name: "\(index)",
                    input: try TensorIO.read(input, key: "__tests__/input_\(index)", path: path),
                    output: try TensorIO.read(output, key: "__tests__/output_\(index)", path: path),
                    absoluteTolerance: try output.numberAttribute("atol") ?? groupAtol,
                    relativeTolerance: try output.numberAttribute("rtol") ?? groupRtol))
        }
        let orphans = names.filter { $0.hasPrefix("output_") && !names.contains("input_" + $0.dropFirst("output_".count)) }
        if let orphan = orphans.sorted().first {
            throw CheckpointError.invalidReferenceVectors(path: path, reason: "\(orphan) has no matching input")
        }
        return cases
    }

    static func write(_ cases: [ReferenceCase], into root: HDF5Group) throws {
        guard !cases.isEmpty else { return }
        let group = try root.createGroup(groupName)
        for (index, referenceCase) in cases.enumerated() {
            try TensorIO.write(referenceCase.input, key: "input_\(index)", into: group)
            try TensorIO.write(referenceCase.output, key: "output_\(index)", into: group)
            let output = try group.openDataset("output_\(index)")
            if let atol = referenceCase.absoluteTolerance { try output.setAttribute("atol", number: atol) }
            if let rtol = referenceCase.relativeTolerance { try output.setAttribute("rtol", number: rtol) }
        }
    }
}
