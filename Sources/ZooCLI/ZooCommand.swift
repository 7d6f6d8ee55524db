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
            BenchCommand.self, ContainedReadCommand.self, ContainedDecodeCommand.self,
        ])

    /// Replaces ArgumentParser's entry point so that usage errors exit with 2, as documented,
    /// rather than EX_USAGE (64).
    public init() {}

    public static func main() {
        ActivationMemory.reuseFreedBuffers()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ZooExit {
            if let message = exit.message { Output.error(message, details: exit.details) }
            if let line = exit.plainLine { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            Foundation.exit(exit.code)
        } catch {
            let code = exitCode(for: error)
            if code == .success { Self.exit(withError: error) }
            // The full message repeats the short one after "Error: "; keep only what follows it.
            let short = message(for: error)
            var usage = fullMessage(for: error)
            if let range = usage.range(of: short) { usage = String(usage[range.upperBound...]) }
            Output.error(short, details: [usage.trimmingCharacters(in: .newlines)])
            Foundation.exit(ZooExit.unusable)
        }
    }
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
