import Foundation

/// What a parent asks its contained child to do, and where the child writes its answer: the whole
/// protocol between `ContainedReading` (Checkpoint), `ContainedDecoding` (Pictures) and the hidden
/// `zoo contained-read` / `zoo contained-decode` subcommands, which hand their one argument to
/// ``init(argument:)`` and nothing else parses it.
public struct ContainedRequest: Codable, Sendable, Equatable {
    /// The five things a child does with an untrusted file.
    public enum Task: String, Codable, Sendable, CaseIterable {
        /// Read a checkpoint whole; the answer is a safetensors transfer file.
        case readCheckpoint = "read"
        /// Read every tensor of a checkpoint, keeping only what `zoo inspect` shows of each; the
        /// answer is a header alone.
        case inspectCheckpoint = "inspect"
        /// Read every tensor of a checkpoint as `inspect` does, and answer only that it could:
        /// for a caller that reads the file itself afterwards (`zoo bench load`); the answer is
        /// a header alone, with the tensor count.
        case checkCheckpoint = "check"
        /// Read a checkpoint's manifest text only; the answer is a header alone.
        case readManifest = "manifest"
        /// Decode a picture; the answer is a header line, then the samples.
        case decodePicture = "decode"

        /// The hidden subcommand of the `zoo` executable that serves this task.
        public var subcommand: String { self == .decodePicture ? "contained-decode" : "contained-read" }
    }

    public var task: Task
    /// The untrusted file.
    public var path: String
    /// The scratch file the child writes its answer to.
    public var output: String

    public init(task: Task, path: String, output: String) {
        self.task = task
        self.path = path
        self.output = output
    }

    /// The child's command line after the executable: the subcommand, then the request as JSON.
    public var arguments: [String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding strings and an enum cannot fail.
        let json = (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return [task.subcommand, json]
    }

    /// The request a child was given as its one argument.
    public init(argument: String) throws(ContainmentFailure) {
        do { self = try JSONDecoder().decode(ContainedRequest.self, from: Data(argument.utf8)) } catch {
            throw .malformedRequest(argument)
        }
    }
}

/// What a child hands back: `fields` (the picture's size and mode, the manifest text, what a
/// checkpoint was read as) as one JSON line, ahead of the payload bytes when there are any, or
/// inside the payload's own metadata when the payload is a file format with a place for it.
public struct ContainedResultHeader<Fields: Codable & Sendable>: Codable, Sendable {
    public var task: ContainedRequest.Task
    public var fields: Fields

    public init(task: ContainedRequest.Task, fields: Fields) {
        self.task = task
        self.fields = fields
    }

    /// The header as one line of JSON, without the newline.
    public func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Reads a header written by ``encoded()`` for `task`; a header for another task, or one
    /// that does not decode, is an incomplete answer.
    public init(decoding text: some StringProtocol, task: ContainedRequest.Task) throws(ContainmentFailure) {
        guard let header = try? JSONDecoder().decode(Self.self, from: Data(text.utf8)), header.task == task else {
            throw .incompleteAnswer
        }
        self = header
    }

    /// Writes the header line, then `payload`, to `path` (the request's output).
    public func write(payload: Data = Data(), to path: String) throws(ContainmentFailure) {
        var data = Data((encoded() + "\n").utf8)
        data.append(payload)
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw .cannotWriteAnswer(path: path, reason: error.localizedDescription)
        }
    }

    /// Reads a file written by ``write(payload:to:)``: the header and the bytes after it.
    public static func read(from path: String, task: ContainedRequest.Task) throws(ContainmentFailure) -> (Self, Data) {
        guard let data = FileManager.default.contents(atPath: path), let newline = data.firstIndex(of: 0x0A) else {
            throw .incompleteAnswer
        }
        let header = try Self(decoding: String(decoding: data[..<newline], as: UTF8.self), task: task)
        return (header, Data(data[(newline + 1)...]))
    }
}
