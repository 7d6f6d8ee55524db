import ArgumentParser
import Checkpoint
import Foundation
import Pictures

/// The child half of contained reading (see `ContainedReading`): reads one untrusted file in its
/// own process and hands the result to the parent through a scratch file. Not for users.
struct ContainedReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contained-read", abstract: "Read one checkpoint for a parent zoo process.", shouldDisplay: false)

    @Argument var file: String
    @Option(name: .long) var output: String
    @Flag(name: .long) var manifestOnly = false

    func run() throws {
        do {
            if manifestOnly {
                try ContainedReading.serveManifest(file, output: output)
            } else {
                try ContainedReading.serve(file, output: output)
            }
        } catch {
            throw ZooExit.unusableQuietly(error.description)
        }
    }
}

/// The child half of contained picture decoding (see `ContainedDecoding`). Not for users.
struct ContainedDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contained-decode", abstract: "Decode one picture for a parent zoo process.", shouldDisplay: false)

    @Argument var file: String
    @Option(name: .long) var output: String

    func run() throws {
        do { try ContainedDecoding.serve(file, output: output) } catch {
            throw ZooExit.unusableQuietly(error.description)
        }
    }
}
