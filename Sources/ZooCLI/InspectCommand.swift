import ArgumentParser
import Checkpoint
import JSON
import ModelZoo
import Pictures

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "List every tensor (key, shape, dtype, bytes, checksum state), the manifest and totals.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var reading: ReadOptions

    @Argument(help: "The checkpoint (.h5, torch.save .pt/.pth/.bin, .safetensors).", completion: .file())
    var file: String

    @Option(name: .long, help: "Write the first convolution's kernels as a picture grid (PNG).", completion: .file(extensions: ["png"]))
    var filters: String?

    func run() throws {
        // Only drawing filters needs the tensors; the report alone is read with none kept.
        let report: InspectReport
        if let filters {
            let checkpoint = try readCheckpoint(file, with: reading.files)
            guard let (key, picture) = FilterGrid.picture(of: checkpoint.stateDict) else {
                throw ZooExit.unusable("\(file) holds no 4-d convolution weight to draw")
            }
            do { try PictureFile.writePNG(picture, to: filters) } catch { throw ZooExit.unusable("\(error)") }
            if !output.json { Output.line("wrote \(filters): \(key) as a \(picture.width)x\(picture.height) grid") }
            report = InspectReport(checkpoint)
        } else {
            report = try inspectCheckpoint(file, with: reading.files)
        }
        if output.json {
            Output.json(report)
            return
        }
        Output.table(
            ["key", "shape", "dtype", "bytes", "checksum"],
            report.tensors.map { [$0.key, Output.shape($0.shape), $0.dtype.rawValue, Output.grouped($0.bytes), $0.checksum.rawValue] })
        Output.line()
        let totals = report.totals
        Output.line("container: \(report.container.rawValue)")
        if let signer = report.signer { Output.line("signed by: \(signer)") }
        if !report.pickleGlobals.isEmpty { Output.line("pickle globals: \(report.pickleGlobals.joined(separator: ", "))") }
        for (key, value) in report.metadata.sorted(by: { $0.key < $1.key }) { Output.line("metadata: \(key) = \(value)") }
        Output.line("\(totals.tensors) tensors, \(Output.grouped(totals.elements)) elements, \(Output.bytes(totals.bytes))")
        for note in report.layout { Output.line("layout: \(note)") }
        if let manifest = report.manifest {
            var summary = manifest.json
            if case .object(var fields) = summary {
                fields["tensors"] = .string("(\(manifest.tensors.count) records)")
                summary = .object(fields)
            }
            Output.line("manifest: \(summary.serialized(pretty: true))")
        } else {
            Output.line("manifest: none (a plain export)")
        }
        Output.line("reference vectors: \(report.referenceVectors)")
        if !report.sampleInputs.isEmpty {
            Output.line(
                "sample inputs: " + report.sampleInputs.map { "\($0.dtype.rawValue) \(Output.shape($0.shape))" }.joined(separator: ", "))
        }
    }
}
