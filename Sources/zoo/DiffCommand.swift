import ArgumentParser
import Checkpoint
import JSON
import ModelZoo

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two checkpoints: keys in one only, shape changes, max abs difference per tensor.",
        discussion: "Exit 0 when identical, 1 when they differ, 2 when a file cannot be read.")

    @OptionGroup var output: OutputOptions

    @Argument(help: "The first checkpoint.")
    var a: String

    @Argument(help: "The second checkpoint.")
    var b: String

    func run() throws {
        let diff = CheckpointDiff(try readCheckpoint(a).stateDict, try readCheckpoint(b).stateDict)
        if output.json {
            Output.json(.object([
                "identical": .bool(diff.isIdentical),
                "only_in_a": .array(diff.onlyInA.map(JSONValue.string)),
                "only_in_b": .array(diff.onlyInB.map(JSONValue.string)),
                "tensors": .array(diff.common.map { change in
                    var entry: [String: JSONValue] = [
                        "key": .string(change.key),
                        "shape_a": .array(change.shapeA.map { .int(Int64($0)) }), "shape_b": .array(change.shapeB.map { .int(Int64($0)) }),
                        "dtype_a": .string(change.dtypeA.rawValue), "dtype_b": .string(change.dtypeB.rawValue),
                    ]
                    if let difference = change.maxAbsoluteDifference, difference.isFinite { entry["max_abs_diff"] = .double(difference) }
                    return .object(entry)
                }),
            ]))
        } else {
            for key in diff.onlyInA { Output.line("only in \(a): \(key)") }
            for key in diff.onlyInB { Output.line("only in \(b): \(key)") }
            Output.table(["key", "shape", "dtype", "max abs diff"], diff.common.map { change in
                [change.key,
                 change.shapeA == change.shapeB ? Output.shape(change.shapeA) : "\(Output.shape(change.shapeA)) -> \(Output.shape(change.shapeB))",
                 change.dtypeA == change.dtypeB ? change.dtypeA.rawValue : "\(change.dtypeA.rawValue) -> \(change.dtypeB.rawValue)",
                 change.maxAbsoluteDifference.map(Output.scientific) ?? "shape differs"]
            })
            Output.line(diff.isIdentical ? "identical" : "different")
        }
        if !diff.isIdentical { throw ZooExit(code: ZooExit.checkFailed) }
    }
}
