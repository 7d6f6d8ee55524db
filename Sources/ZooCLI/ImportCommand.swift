import ArgumentParser
import ModelZoo

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn any Python export into canonical v1 (manifest, checksums, reference vectors), verifying it on the way.")

    @OptionGroup var reading: ReadOptions

    @Argument(help: "The Python export (.h5).", completion: .file())
    var input: String

    @Option(name: .long, help: "The registry architecture, overriding the manifest and recognition.")
    var arch: ArchitectureName?

    @Option(name: .long, help: "Where to write the canonical checkpoint (.h5).", completion: .file(extensions: ["h5"]))
    var output: String

    func run() throws {
        let checkpoint = try readCheckpoint(input, with: reading.files)
        let report = FlagHints.apply(to: Verifier.verify(checkpoint, options: VerificationOptions(arch: arch?.architecture.name)))
        guard report.passed else {
            VerifyCommand.printReport(report)
            let details = report.offendingKeys.isEmpty ? [] : ["offending keys: " + report.offendingKeys.joined(separator: ", ")]
            throw ZooExit.failed("\(input) did not verify; nothing was written", details: details)
        }
        do {
            try Importer.importCheckpoint(report, to: output)
        } catch {
            throw writeFailure(error, output: output)
        }
        let label = report.resolved?.label ?? "unknown model"
        Output.line(
            "wrote \(output): \(label), \(checkpoint.stateDict.count) tensors with checksums, "
                + "\(checkpoint.referenceCases.count) reference vector(s)")
        for note in checkpoint.layoutNotes { Output.line("normalised: \(note)") }
    }
}
