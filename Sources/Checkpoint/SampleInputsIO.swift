import HDF5
import JSON
import Tensor

/// Where zoo's formats keep a program's sample inputs (the example inputs it was exported with):
/// HDF5 group `__sample_inputs__` with datasets `input_0`, `input_1`, ... by position, and in
/// safetensors `__metadata__["zoo_sample_inputs"]`, a JSON array of tensors in `__tests__`'s
/// encoding. Inputs only, never outputs: a program's own results prove nothing about it.
enum SampleInputsIO {
    static let groupName = "__sample_inputs__"
    static let metadataKey = "zoo_sample_inputs"

    static func read(_ group: HDF5Group, path: String) throws -> [Tensor] {
        let names = Set(try group.members().filter { $0.kind == .dataset }.map(\.name))
        var inputs: [Tensor] = []
        while names.contains("input_\(inputs.count)") {
            let key = "input_\(inputs.count)"
            inputs.append(try TensorIO.read(try group.openDataset(key), key: "\(groupName)/\(key)", path: path))
        }
        if let stray = names.subtracting((0..<inputs.count).map { "input_\($0)" }).sorted().first {
            throw CheckpointError.damaged(path: path, reason: "\(groupName)/\(stray) is not input_0, input_1, ... in order")
        }
        return inputs
    }

    static func write(_ inputs: [Tensor], into root: HDF5Group) throws {
        guard !inputs.isEmpty else { return }
        let group = try root.createGroup(groupName)
        for (index, input) in inputs.enumerated() { try TensorIO.write(input, key: "input_\(index)", into: group) }
    }

    static func encode(_ inputs: [Tensor]) -> String {
        JSONValue.array(inputs.map(ReferenceVectorJSON.json)).serialized()
    }

    static func decode(_ text: String, path: String) throws(CheckpointError) -> [Tensor] {
        guard let items = (try? JSONValue.parse(text))?.arrayValue else {
            throw .damaged(path: path, reason: "\(metadataKey) is not a JSON array of tensors")
        }
        var inputs: [Tensor] = []
        for item in items { inputs.append(try ReferenceVectorJSON.tensor(item, path: path)) }
        return inputs
    }
}
