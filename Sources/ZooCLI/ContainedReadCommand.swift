import ArgumentParser
import Checkpoint
import Foundation
import Pictures

/// The child half of contained reading (see `ContainedReading`): reads one untrusted file in its
/// own process and hands the result to the parent through a scratch file. Its one argument is a
/// `ContainedRequest`, which Checkpoint parses and serves. Not for users.
struct ContainedReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contained-read", abstract: "Read one checkpoint for a parent zoo process.", shouldDisplay: false)

    @Argument var request: String

    func run() throws {
        do { try ContainedReading.serve(argument: request) } catch {
            throw ZooExit.unusableQuietly(error.description)
        }
    }
}

/// The child half of contained picture decoding (see `ContainedDecoding`). Not for users.
struct ContainedDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contained-decode", abstract: "Decode one picture for a parent zoo process.", shouldDisplay: false)

    @Argument var request: String

    func run() throws {
        do { try ContainedDecoding.serve(argument: request) } catch {
            throw ZooExit.unusableQuietly(error.description)
        }
    }
}
