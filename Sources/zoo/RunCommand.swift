import ArgumentParser
import Checkpoint
import ModelZoo
import NN
import Tensor

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run an eval-mode forward pass: NumPy .npy in (float32 or float64, C order), float32 .npy out.")

    @Argument(help: "The checkpoint (.h5).")
    var file: String

    @Option(name: .long, help: "The registry architecture, overriding the manifest and recognition.")
    var arch: String?

    @Option(name: .long, help: "The input array (.npy), with or without the batch axis.")
    var input: String

    @Option(name: .long, help: "Where to write the output array (.npy).")
    var output: String

    func run() throws {
        let checkpoint = try readCheckpoint(file)
        let resolved: ResolvedModel
        do { resolved = try ModelResolver.resolve(checkpoint, arch: arch) } catch {
            throw ZooExit.failed("cannot choose a model for \(file)", details: ["\(error)"])
        }
        do {
            try resolved.model.load(
                checkpoint.stateDict, modelName: resolved.label, manifest: checkpoint.manifest, storedKeys: checkpoint.storedKeys)
        } catch let error as StrictLoadError {
            throw ZooExit.failed("\(file) does not load strictly into \(resolved.label)", details: [error.description])
        }
        var x: Tensor
        do { x = try NumPyFile.read(input).converted(to: .float32) } catch {
            throw ZooExit.unusable("cannot read --input", details: ["\(error)"])
        }
        let addedBatch = resolved.inputShape.map { x.rank == $0.count } ?? false
        if addedBatch { x = try x.reshaped([1] + x.shape) }
        do {
            resolved.model.eval()
            var y = try resolved.model(x)
            if addedBatch, y.shape.first == 1 { y = try y.reshaped(Array(y.shape.dropFirst())) }
            try NumPyFile.write(y, to: output)
            Output.line("\(resolved.label): \(Output.shape(x.shape)) -> \(Output.shape(y.shape)) written to \(output)")
        } catch let error as NNError {
            throw ZooExit.unusable("the forward pass failed", details: [error.description])
        } catch let error as NumPyFile.Error {
            throw ZooExit.unusable("cannot write --output", details: [error.description])
        }
    }
}
