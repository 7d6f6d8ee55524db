import ArgumentParser
import Checkpoint
import JSON

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "List every tensor (key, shape, dtype, bytes, checksum state), the manifest and totals.")

    @OptionGroup var output: OutputOptions

    @Argument(help: "The checkpoint (.h5, torch.save .pt/.pth/.bin, .safetensors).", completion: .file())
    var file: String

    func run() throws {
        let report = InspectReport(try readCheckpoint(file))
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
    }
}
