import ArgumentParser
import Foundation
import NN

/// The `zoo` command: keeps PyTorch weights in HDF5 and proves them right.
public struct ZooCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "zoo",
        abstract: "Load, verify, run, convert and export PyTorch state_dicts (HDF5, torch.save, safetensors).",
        discussion: """
            Exit codes: 0 when everything checked holds; 1 when a check fails (the offending keys \
            are named); 2 when a file cannot be read as a checkpoint or the arguments are wrong.
            """,
        version: "0.1.0",
        subcommands: [
            ListCommand.self, InspectCommand.self, VerifyCommand.self, RunCommand.self,
            ExportCommand.self, ImportCommand.self, DiffCommand.self, ConvertCommand.self, KeygenCommand.self, SignCommand.self,
            TrainCommand.self,
            BenchCommand.self, ContainedReadCommand.self, ContainedDecodeCommand.self,
        ])

    public init() {}

    /// The `zoo` executable's entry point: runs the command tree on the process's arguments and
    /// exits with its code.
    public static func main() {
        ActivationMemory.reuseFreedBuffers()
        Foundation.exit(execute(Array(CommandLine.arguments.dropFirst()), in: .process))
    }

    /// Runs the command tree on `arguments` (without the program name) in this process, as the
    /// `zoo` executable would, and returns its exit code and what it printed. Untrusted files are
    /// read in child processes running `readerExecutable` (a `zoo` executable).
    public static func run(_ arguments: [String], readerExecutable: URL) -> CommandResult {
        let output = OutputSink.capturing()
        let context = CommandContext(readerExecutable: readerExecutable, readsInProcess: false, output: output)
        let status = execute(arguments, in: context)
        let text = output.text
        return CommandResult(status: status, standardOutput: text.standardOutput, standardError: text.standardError)
    }

    /// Parses and runs one command. Usage errors exit with 2, as documented, rather than
    /// ArgumentParser's EX_USAGE (64); help and version print to standard output with 0.
    static func execute(_ arguments: [String], in context: CommandContext) -> Int32 {
        CommandContext.$current.withValue(context) {
            do {
                var command = try parseAsRoot(arguments)
                try command.run()
                return 0
            } catch let exit as ZooExit {
                if let message = exit.message { Output.error(message, details: exit.details) }
                if let line = exit.plainLine { context.output.write(line + "\n", to: .standardError) }
                return exit.code
            } catch {
                let code = exitCode(for: error)
                if code == .success {
                    let text = fullMessage(for: error)
                    if !text.isEmpty { Output.line(text) }
                    return 0
                }
                // The full message repeats the short one after "Error: "; keep only what follows it.
                let short = message(for: error)
                var usage = fullMessage(for: error)
                if let range = usage.range(of: short) { usage = String(usage[range.upperBound...]) }
                Output.error(short, details: [usage.trimmingCharacters(in: .newlines)])
                return ZooExit.unusable
            }
        }
    }
}

/// What one in-process run of the command tree did: its exit code and its two streams.
public struct CommandResult: Sendable {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String
}

/// How a subcommand ends when it does not succeed.
struct ZooExit: Error, CustomStringConvertible, Sendable {
    var description: String { ([message ?? plainLine ?? "exit \(code)"] + details).joined(separator: ": ") }

    static let checkFailed: Int32 = 1
    static let unusable: Int32 = 2

    var code: Int32
    var message: String?
    var details: [String] = []
    var plainLine: String?

    /// A check failed: exit 1.
    static func failed(_ message: String, details: [String] = []) -> ZooExit {
        ZooExit(code: checkFailed, message: message, details: details)
    }

    /// A signal stopped `zoo train` after it wrote its checkpoint: 128 + the signal's number,
    /// as shells report a command the signal killed (130 for Ctrl-C, 143 for SIGTERM).
    static func stopped(by signal: Int32) -> ZooExit { ZooExit(code: 128 + signal) }

    /// The file or the arguments cannot be used: exit 2.
    static func unusable(_ message: String, details: [String] = []) -> ZooExit {
        ZooExit(code: unusable, message: message, details: details)
    }

    /// Exit 2 with `message` alone on stderr, without "error: ": the contained reader's line,
    /// which its parent passes on as it is.
    static func unusableQuietly(_ message: String) -> ZooExit {
        ZooExit(code: unusable, message: nil, details: [], plainLine: message)
    }
}
