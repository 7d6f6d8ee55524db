import ArgumentParser
import Checkpoint
import ModelZoo

struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign a checkpoint in place with an Ed25519 private key (atomic; re-signing replaces the signature).",
        discussion: """
            The signature covers the manifest, every tensor's SHA-256, and every __tests__ and __eval__ \
            dataset with its tolerances (see the Checkpoint format page). Exit 0 when signed, 1 when \
            the file fails its own checksums, 2 when a file or key cannot be used.
            """)

    @OptionGroup var output: OutputOptions
    @OptionGroup var reading: ReadOptions

    @Argument(help: "The checkpoint (.h5 or .safetensors).", completion: .file())
    var file: String

    @Option(name: .long, help: "The private key (from zoo keygen).", completion: .file())
    var key: String

    func run() throws {
        let checkpoint = try readCheckpoint(file, with: reading.files)
        let report: SigningReport
        do { report = try Signer.sign(file, checkpoint: checkpoint, keyPath: key) } catch {
            if case .integrity = error { throw ZooExit.failed(error.description) }
            throw ZooExit.unusable(error.description)
        }
        if output.json { return Output.json(report) }
        Output.line(
            "signed \(report.path) by \(report.fingerprint)\(report.replacedSignature ? " (replacing its previous signature)" : "")")
    }
}
