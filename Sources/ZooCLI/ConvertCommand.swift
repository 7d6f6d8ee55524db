import ArgumentParser
import Checkpoint
import Foundation
import ModelZoo
import Tensor

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert any readable checkpoint (HDF5, torch.save, safetensors, .pt2) to .h5 (format v1), .safetensors or .pt2.",
        discussion: """
            The output format follows OUT's extension. No architecture is needed: an unrecognised \
            model converts, with a note. The manifest, checksums and reference vectors travel with \
            the weights; the write is atomic. A torch.export program travels in the manifest \
            (stack traces dropped unless --keep-stack-traces); .pt2 output needs one and holds only \
            the program and weights, as torch.export.save writes them. --preprocess and --classes \
            write a picture preprocess and class names into the manifest. --expect Y.npy stores \
            PyTorch's output for --input X.npy (or, without --input, for the file's sample input) \
            as a new reference pair, once the model reproduces it; zoo never stores outputs of its \
            own. Exit 0 when written, 1 when the input fails its own checksums or the model does \
            not reproduce --expect (nothing is written), 2 when a file or option cannot be read or \
            written.
            """)

    @OptionGroup var output: OutputOptions
    @OptionGroup var reading: ReadOptions

    @Argument(help: "The checkpoint to convert.", completion: .file())
    var input: String

    @Argument(
        help: "Where to write it: a path ending in .h5, .safetensors or .pt2.", completion: .file(extensions: ["h5", "safetensors", "pt2"]))
    var destination: String

    @Option(
        name: .long, help: "A preprocess to write into the manifest, in its JSON form: inline or a file.",
        completion: .file(extensions: ["json"]))
    var preprocess: String?

    @Option(name: .long, help: "Class names to write into the manifest: a JSON list inline or a file, or a text file of one per line.")
    var classes: String?

    @Flag(name: .long, help: "Keep the stack traces (the exporting machine's file paths) in a torch.export program's nodes.")
    var keepStackTraces = false

    @Option(
        name: .long, help: "PyTorch's output (.npy) for --input, or for the file's sample input, to store as a reference pair.",
        completion: .file(extensions: ["npy"]))
    var expect: String?

    @Option(name: .customLong("input"), help: "The input (.npy) --expect was computed from.", completion: .file(extensions: ["npy"]))
    var referenceInput: String?

    func validate() throws {
        let lowered = destination.lowercased()
        guard [".h5", ".hdf5", ".safetensors", ".pt2"].contains(where: lowered.hasSuffix) else {
            throw ValidationError("OUT must end in .h5, .safetensors or .pt2, got '\(destination)'")
        }
        if referenceInput != nil && expect == nil { throw ValidationError("--input goes with --expect Y.npy") }
    }

    func run() throws {
        let checkpoint = try readCheckpoint(input, with: reading.files)
        let options = ConversionOptions(
            preprocess: try preprocess.map { try PreprocessOption.parse($0) }, classes: try classes.map(Self.classNames),
            keepStackTraces: keepStackTraces, expectedOutput: try expect.map { try Self.array($0, flag: "--expect") },
            referenceInput: try referenceInput.map { try Self.array($0, flag: "--input") })
        let report: ConversionReport
        do { report = FlagHints.apply(to: try Converter.convert(checkpoint, to: destination, options: options)) } catch {
            switch error {
            case .integrity, .referenceMismatch: throw ZooExit.failed(error.description)
            case .unsupportedOutput, .write, .invalidOption: throw ZooExit.unusable(error.description)
            }
        }
        if output.json {
            Output.json(report)
            return
        }
        Output.line(
            "wrote \(report.output) (\(report.to.rawValue)) from \(report.input) (\(report.from.rawValue)): "
                + "\(report.tensors) tensors, \(report.referenceVectors) reference vector(s), \(report.model ?? "unrecognised model")")
        for note in report.notes { Output.line("note: \(note)") }
    }

    private static func array(_ path: String, flag: String) throws -> Tensor {
        do { return try NumPyFile.read(path) } catch { throw ZooExit.unusable("cannot read \(flag) \(path)", details: ["\(error)"]) }
    }

    /// `--classes`: a JSON list of strings (inline or in a file), or a text file of one name per line.
    static func classNames(_ value: String) throws -> [String] {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.hasPrefix("["), let data = FileManager.default.contents(atPath: value),
            let text = String(data: data, encoding: .utf8), !text.trimmingCharacters(in: .whitespaces).hasPrefix("[")
        {
            return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let json = try PreprocessOption.parse(value, flag: "--classes")
        guard let names = json.arrayValue?.compactMap(\.stringValue), names.count == json.arrayValue?.count, !names.isEmpty else {
            throw ZooExit.unusable("--classes \(value): not a list of class names")
        }
        return names
    }
}
