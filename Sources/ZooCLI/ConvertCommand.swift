import ArgumentParser
import ModelZoo

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert any readable checkpoint (HDF5, torch.save, safetensors) to .h5 (format v1) or .safetensors.",
        discussion: """
            The output format follows OUT's extension. No architecture is needed: an unrecognised \
            model converts, with a note. The manifest, checksums and reference vectors travel with \
            the weights; the write is atomic. Exit 0 when written, 1 when the input fails its own \
            checksums (nothing is written), 2 when a file cannot be read or written.
            """)

    @OptionGroup var output: OutputOptions
    @OptionGroup var reading: ReadOptions

    @Argument(help: "The checkpoint to convert.", completion: .file())
    var input: String

    @Argument(help: "Where to write it: a path ending in .h5 or .safetensors.", completion: .file(extensions: ["h5", "safetensors"]))
    var destination: String

    func validate() throws {
        let lowered = destination.lowercased()
        guard lowered.hasSuffix(".h5") || lowered.hasSuffix(".hdf5") || lowered.hasSuffix(".safetensors") else {
            throw ValidationError("OUT must end in .h5 or .safetensors, got '\(destination)'")
        }
    }

    func run() throws {
        let checkpoint = try readCheckpoint(input, with: reading.files)
        let report: ConversionReport
        do { report = FlagHints.apply(to: try Converter.convert(checkpoint, to: destination)) } catch {
            switch error {
            case .integrity: throw ZooExit.failed(error.description)
            case .unsupportedOutput, .write: throw ZooExit.unusable(error.description)
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
}
