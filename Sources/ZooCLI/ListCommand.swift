import ArgumentParser
import Foundation
import ModelZoo

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Show the registry and the checkpoints found in the zoo folder.",
        discussion: "Exit 2 when the folder does not exist or cannot be read.")

    @OptionGroup var output: OutputOptions

    @Option(name: .long, help: "The folder of checkpoints.", completion: .directory)
    var zoo = "Zoo"

    @OptionGroup var reading: ReadOptions

    func run() throws {
        var listing: ZooListing
        let files = reading.files
        do {
            listing = try ZooListing(
                folder: zoo, readManifest: { try readManifestText($0, with: files) }, read: { try readCheckpoint($0, with: files) })
        } catch {
            throw ZooExit.unusable("\(error)")
        }
        for index in listing.checkpoints.indices {
            if let failure = listing.checkpoints[index].failure { listing.checkpoints[index].problem = FlagHints.message(failure) }
        }
        if output.json {
            Output.json(listing)
            return
        }
        Output.line("Architectures")
        Output.table(
            ["name", "args (defaults)", "input", "parameters", "description"],
            listing.architectures.map { summary in
                let arguments = summary.orderedArguments.map { "\($0.name)=\($0.defaultValue)" }.joined(separator: ", ")
                return [
                    summary.name, arguments.isEmpty ? "-" : arguments, summary.input, Output.grouped(summary.parameters), summary.summary,
                ]
            })
        Output.line()
        Output.line("Checkpoints in \(zoo)/")
        if listing.checkpoints.isEmpty {
            Output.line("(none)")
            return
        }
        Output.table(
            ["file", "arch", "parameters", "size", "sha256", "trained"],
            listing.checkpoints.map { entry in
                [
                    (entry.path as NSString).lastPathComponent, entry.arch ?? "unrecognised",
                    entry.parameterCount.map(Output.grouped) ?? "-", Output.bytes(entry.byteCount), String(entry.sha256.prefix(12)),
                    entry.metricSummary ?? "no (fresh weights)",
                ]
            })
        for entry in listing.checkpoints {
            if let problem = entry.problem { Output.line("note: \(entry.path): \(problem.split(separator: "\n").first ?? "")") }
        }
    }
}
