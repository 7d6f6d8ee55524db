import ArgumentParser
import Checkpoint
import ModelZoo
import NN
import Tensor

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run an eval-mode forward pass: NumPy .npy in (float32 or float64, C order), float32 .npy out.")

    @Argument(help: "The checkpoint (.h5).", completion: .file())
    var file: String

    @Option(name: .long, help: "The registry architecture, overriding the manifest and recognition.")
    var arch: ArchitectureName?

    @Option(name: .long, help: "The input array (.npy), with or without the batch axis.", completion: .file(extensions: ["npy"]))
    var input: String

    @Option(name: .long, help: "Where to write the output array (.npy).", completion: .file(extensions: ["npy"]))
    var output: String

    func run() throws {
        let checkpoint = try readCheckpoint(file)
        let resolved: ResolvedModel
        do { resolved = try ModelResolver.resolve(checkpoint, arch: arch?.architecture.name) } catch {
            throw ZooExit.failed("cannot choose a model for \(file)", details: ["\(error)"])
        }
        do { try resolved.loadStrictly(checkpoint) } catch {
            throw ZooExit.failed("\(file) does not load strictly into \(resolved.label)", details: [error.description])
        }
        let x: Tensor
        do { x = try NumPyFile.read(input) } catch {
            throw ZooExit.unusable("cannot read --input", details: ["\(error)"])
        }
        let y: Tensor
        do { y = try resolved.run(x) } catch {
            throw ZooExit.unusable("the forward pass failed", details: ["\(error)"])
        }
        do { try NumPyFile.write(y, to: output) } catch {
            throw ZooExit.unusable("cannot write --output", details: [error.description])
        }
        let ranShape = resolved.lacksBatchAxis(x) ? [1] + x.shape : x.shape
        Output.line("\(resolved.label): \(Output.shape(ranShape)) -> \(Output.shape(y.shape)) written to \(output)")
    }
}
