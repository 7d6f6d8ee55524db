import ArgumentParser
import Checkpoint

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make an Ed25519 key pair for signing checkpoints: NAME (private, mode 0600) and NAME.pub.",
        discussion: "Each file holds the base64 of the raw 32-byte key on one line. Existing keys are never overwritten (exit 2).")

    @Option(name: .long, help: "The private key's path; the public key goes to the same path with .pub.", completion: .file())
    var output: String

    func validate() throws {
        if output.hasSuffix(".pub") { throw ValidationError("--output names the private key; its public key gets .pub added") }
    }

    func run() throws {
        let publicKey: [UInt8]
        do { publicKey = Array(try SigningKeys.generate(privatePath: output)) } catch { throw ZooExit.unusable(error.description) }
        Output.line("wrote \(output) (private, 0600) and \(output).pub")
        Output.line("fingerprint \(SigningKeys.fingerprint(of: .init(publicKey)))")
    }
}
