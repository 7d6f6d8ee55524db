import ArgumentParser
import Checkpoint
import ModelZoo
import NN
import Pictures
import Tensor

extension PictureScale: ExpressibleByArgument {}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an eval-mode forward pass on pictures (PNG, JPEG) or a NumPy .npy array.",
        discussion: """
            --image decodes each picture, applies a preprocess and runs them as one batch: \
            --preprocess if given, else the file's, else for a recognised torchvision model the \
            transforms of torchvision's weights for it, else only a conversion to the model's \
            channel count with ToTensor scaling (the output says which ran). A classifier prints \
            its top K classes with softmax probabilities, named from the file's classes (or \
            ImageNet's for a torchvision classifier). --output writes the raw \
            output as float32 .npy; --output-image writes picture-shaped outputs as PNG.
            """)

    @OptionGroup var output: OutputOptions
    @OptionGroup var reading: ReadOptions
    @OptionGroup var memory: MemoryOptions

    @Argument(help: "The checkpoint.", completion: .file())
    var file: String

    @Option(name: .long, help: "The registry architecture, overriding the manifest and recognition.")
    var arch: ArchitectureName?

    @Option(name: .long, help: "The input array (.npy), with or without the batch axis.", completion: .file(extensions: ["npy"]))
    var input: String?

    @Option(
        name: .long, help: "A picture to run (repeatable); all run as one batch.", completion: .file(extensions: ["png", "jpg", "jpeg"]))
    var image: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The preprocess for --image, in the manifest's JSON form: inline or a file.",
            discussion: #"For example '[{"type": "Resize", "size": [64, 64]}, {"type": "ToTensor"}]'."#),
        completion: .file(extensions: ["json"]))
    var preprocess: String?

    @Option(name: .long, help: "How many classes to show per picture.")
    var top = 5

    @Option(name: .customLong("output"), help: "Where to write the output array (.npy).", completion: .file(extensions: ["npy"]))
    var outputArray: String?

    @Option(name: .long, help: "Where to write a picture-shaped output as PNG (out.png, or out-0.png, out-1.png, ... for several).")
    var outputImage: String?

    @Option(name: .long, help: "minmax (per channel, the default) or unit ([0, 1] clamped).")
    var scale: PictureScale = .minmax

    func validate() throws {
        if input == nil && image.isEmpty { throw ValidationError("give --input X.npy or --image PICTURE") }
        if input != nil && !image.isEmpty { throw ValidationError("--input and --image do not go together") }
        if input != nil && outputArray == nil && outputImage == nil {
            throw ValidationError("--input needs --output Y.npy or --output-image")
        }
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if preprocess != nil && image.isEmpty { throw ValidationError("--preprocess applies to --image pictures") }
    }

    func run() throws {
        let checkpoint = try readCheckpoint(file, with: reading.files)
        let resolved: ResolvedModel
        do { resolved = try ModelResolver.resolve(checkpoint, arch: arch?.architecture.name) } catch {
            // A program zoo cannot run is a file it cannot use (exit 2), not a failed check.
            if case NNError.unsupportedOperator = error { throw ZooExit.unusable("\(file): \(error)") }
            throw ZooExit.failed("cannot choose a model for \(file)", details: [FlagHints.message(error)])
        }
        do { try resolved.loadStrictly(checkpoint) } catch {
            throw ZooExit.failed("\(file) does not load strictly into \(resolved.label)", details: [error.description])
        }
        let x: Tensor
        var chosen: ChosenPreprocess?
        if let input {
            do { x = try NumPyFile.read(input) } catch { throw ZooExit.unusable("cannot read --input", details: ["\(error)"]) }
        } else {
            let given = try preprocess.map { try PreprocessOption.parse($0) }
            do {
                let files = reading.files
                let choice = try PictureRunner.choosePreprocess(for: checkpoint, model: resolved, given: given)
                chosen = choice
                x = try PictureRunner.batch(
                    image, preprocess: choice.preprocess, checkpointPath: file,
                    decode: { path throws(PictureError) in try files.picture(at: path) })
            } catch { throw ZooExit.unusable(error.description) }
        }
        let outputs: [(name: String, output: Tensor)]
        do { outputs = try resolved.runAll(x, memoryLimit: memory.maxMemory?.bytes) } catch let error as MemoryAdmissionError {
            throw memory.failure(error, running: file)
        } catch { throw ZooExit.unusable("the forward pass failed", details: ["\(error)"]) }
        let y = outputs[0].output
        var arrays: [(path: String, note: String)] = []
        if let outputArray {
            // A model with several outputs (a dict's keys): the first at --output, each other
            // beside it as Y.<name>.npy.
            let stem = outputArray.lowercased().hasSuffix(".npy") ? String(outputArray.dropLast(4)) : outputArray
            for (index, (name, value)) in outputs.enumerated() {
                let path = index == 0 ? outputArray : "\(stem).\(name).npy"
                do { try NumPyFile.write(value, to: path) } catch {
                    throw ZooExit.unusable("cannot write --output", details: [error.description])
                }
                arrays.append((path, outputs.count > 1 ? " (output '\(name)', \(Output.shape(value.shape)))" : ""))
            }
        }
        var written: [String] = []
        if let outputImage {
            let batched = resolved.lacksBatchAxis(x) ? try y.reshaped([1] + y.shape) : y
            do { written = try PictureRunner.writeOutputPictures(batched, to: outputImage, scale: scale) } catch {
                throw ZooExit.unusable(FlagHints.message(error))
            }
        }
        let ranShape = resolved.lacksBatchAxis(x) ? [1] + x.shape : x.shape
        if !image.isEmpty && y.rank == 2 {
            let predictions = PictureRunner.top(
                top, of: y, images: image, classes: PictureRunner.classes(for: checkpoint, model: resolved))
            if output.json { return Output.json(predictions) }
            if let chosen { Output.line(FlagHints.preprocessSummary(chosen)) }
            for prediction in predictions {
                Output.line(prediction.image)
                for score in prediction.top {
                    Output.line(
                        String(
                            format: "  %6.2f%%  %@", score.probability * 100, score.name.map { "\(score.index) \($0)" } ?? "\(score.index)")
                    )
                }
            }
        } else if output.json {
            Output.json(
                RunSummary(
                    model: resolved.label, inputShape: ranShape, outputShape: y.shape, written: written + arrays.map(\.path),
                    outputs: outputs.count > 1 ? outputs.map { NamedShape(name: $0.name, shape: $0.output.shape) } : nil))
            return
        } else {
            if let chosen { Output.line(FlagHints.preprocessSummary(chosen)) }
            Output.line("\(resolved.label): \(Output.shape(ranShape)) -> \(Output.shape(y.shape))")
        }
        if !output.json {
            for (path, note) in arrays { Output.line("wrote \(path)\(note)") }
            for path in written { Output.line("wrote \(path)") }
        }
    }

    struct RunSummary: Encodable {
        var model: String
        var inputShape: [Int]
        var outputShape: [Int]
        var written: [String]
        /// Every output by name, for a model with several.
        var outputs: [NamedShape]?

        private enum CodingKeys: String, CodingKey {
            case model, inputShape = "input_shape", outputShape = "output_shape", written, outputs
        }
    }

    struct NamedShape: Encodable {
        var name: String
        var shape: [Int]
    }
}
