import Foundation
import JSON
import Tensor

/// `__tests__` as one JSON string, for containers without groups (safetensors' `__metadata__`):
/// `[{"name": "0", "input": T, "output": T, "atol": 1e-5, "rtol": 1e-4}, ...]` where each T is
/// `{"dtype": "float32", "shape": [...], "data": base64 of the little-endian bytes}`. Lossless:
/// the vectors come back bit for bit.
enum ReferenceVectorJSON {
    static func encode(_ cases: [ReferenceCase]) -> String {
        JSONValue.array(
            cases.map { referenceCase in
                var fields: [String: JSONValue] = [
                    "name": .string(referenceCase.name), "input": json(referenceCase.input), "output": json(referenceCase.output),
                ]
                if let atol = referenceCase.absoluteTolerance { fields["atol"] = .double(atol) }
                if let rtol = referenceCase.relativeTolerance { fields["rtol"] = .double(rtol) }
                return .object(fields)
            }
        ).serialized()
    }

    static func decode(_ text: String, path: String) throws(CheckpointError) -> [ReferenceCase] {
        guard let items = (try? JSONValue.parse(text))?.arrayValue else {
            throw .invalidReferenceVectors(path: path, reason: "\(Safetensors.testsKey) is not a JSON array")
        }
        var cases: [ReferenceCase] = []
        for (index, item) in items.enumerated() {
            guard let input = item["input"], let output = item["output"] else {
                throw .invalidReferenceVectors(path: path, reason: "case \(index) lacks input or output")
            }
            cases.append(
                ReferenceCase(
                    name: item["name"]?.stringValue ?? "\(index)", input: try tensor(input, path: path),
                    output: try tensor(output, path: path),
                    absoluteTolerance: item["atol"]?.doubleValue, relativeTolerance: item["rtol"]?.doubleValue))
        }
        return cases
    }

    static func json(_ tensor: Tensor) -> JSONValue {
        .object([
            "dtype": .string(tensor.dtype.rawValue), "shape": .array(tensor.shape.map { .int(Int64($0)) }),
            "data": .string(Data(tensor.littleEndianBytes).base64EncodedString()),
        ])
    }

    static func tensor(_ value: JSONValue, path: String) throws(CheckpointError) -> Tensor {
        guard let dtype = value["dtype"]?.stringValue.flatMap(DType.init(rawValue:)),
            let shape = value["shape"]?.arrayValue?.compactMap(\.intValue),
            let data = value["data"]?.stringValue.flatMap({ Data(base64Encoded: $0) })
        else { throw .invalidReferenceVectors(path: path, reason: "a vector lacks dtype, shape or base64 data") }
        do { return try Tensor(shape: shape, dtype: dtype, littleEndianBytes: [UInt8](data)) } catch {
            throw .invalidReferenceVectors(path: path, reason: error.description)
        }
    }
}
