import ArgumentParser
import ModelZoo

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two checkpoints: keys in one only, shape changes, max abs difference per tensor.",
        discussion: "Exit 0 when identical, 1 when they differ, 2 when a file cannot be read.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var reading: ReadOptions

    @Argument(help: "The first checkpoint.", completion: .file())
    var a: String

    @Argument(help: "The second checkpoint.", completion: .file())
    var b: String

    func run() throws {
        let diff = CheckpointDiff(
            try readCheckpoint(a, with: reading.files).stateDict, try readCheckpoint(b, with: reading.files).stateDict)
        if output.json {
            Output.json(diff)
        } else {
            for key in diff.onlyInA { Output.line("only in \(a): \(key)") }
            for key in diff.onlyInB { Output.line("only in \(b): \(key)") }
            Output.table(["key", "shape", "dtype", "max abs diff"], diff.common.map(row))
            Output.line(diff.isIdentical ? "identical" : "different")
        }
        if !diff.isIdentical { throw ZooExit(code: ZooExit.checkFailed) }
    }

    private func row(_ change: CheckpointDiff.Change) -> [String] {
        let shape =
            change.shapeA == change.shapeB
            ? Output.shape(change.shapeA) : "\(Output.shape(change.shapeA)) -> \(Output.shape(change.shapeB))"
        let dtype =
            change.dtypeA == change.dtypeB
            ? change.dtypeA.rawValue : "\(change.dtypeA.rawValue) -> \(change.dtypeB.rawValue)"
        return [change.key, shape, dtype, change.maxAbsoluteDifference.map(Output.scientific) ?? "shape differs"]
    }
}
