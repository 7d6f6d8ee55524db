import Containment
import Foundation
import JSON

#if canImport(Glibc)
    import Glibc
#endif

/// Decoding untrusted pictures where a fault or a hang in libpng or libjpeg cannot take the
/// caller down: the decode runs in a child process (`zoo contained-decode PICTURE --output RAW`)
/// with a wall-clock limit, and hands back the pixels as a raw file (a JSON header line, then the
/// samples) that the caller reads with Swift alone.
public enum ContainedDecoding {
    public static func read(_ path: String, timeout: Double = 60, decoder: URL) throws(PictureError) -> Picture {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-picture-\(UUID().uuidString).raw")
        defer { unlink(scratch.path) }
        let outcome: ChildOutcome
        do { outcome = try ChildProcess.run(decoder, ["contained-decode", path, "--output", scratch.path], timeout: timeout) } catch {
            throw PictureError(path: path, reason: "cannot start the decoder process: \(error)")
        }
        switch outcome {
        case .timedOut:
            throw PictureError(
                path: path, reason: "decoding took longer than \(Int(timeout)) s and was stopped; the picture may be crafted")
        case .crashed(let signal):
            throw PictureError(path: path, reason: "the decoder crashed (signal \(signal)) on this picture; it is damaged or crafted")
        case .exited(0, _):
            return try readRaw(scratch.path, originalPath: path)
        case .exited(_, let message):
            let prefix = "\(path): "
            throw PictureError(path: path, reason: message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message)
        }
    }

    /// The child's side: decodes `path` in this process and writes the raw pixels to `output`.
    public static func serve(_ path: String, output: String) throws(PictureError) {
        let picture = try PictureFile.read(path)
        let header = JSONValue.object([
            "width": .int(Int64(picture.width)), "height": .int(Int64(picture.height)), "mode": .string(picture.mode.rawValue),
        ]).serialized()
        var data = Data((header + "\n").utf8)
        if picture.mode == .I16 {
            picture.words.withUnsafeBytes { data.append(contentsOf: $0) }
        } else {
            data.append(contentsOf: picture.bytes)
        }
        do { try data.write(to: URL(fileURLWithPath: output)) } catch {
            throw PictureError(path: output, reason: "cannot write the decoded pixels: \(error.localizedDescription)")
        }
    }

    private static func readRaw(_ scratch: String, originalPath: String) throws(PictureError) -> Picture {
        guard let data = FileManager.default.contents(atPath: scratch), let newline = data.firstIndex(of: 0x0A),
            let header = try? JSONValue.parse(String(decoding: data[..<newline], as: UTF8.self)),
            let width = header["width"]?.intValue, let height = header["height"]?.intValue, width > 0, height > 0,
            let mode = header["mode"]?.stringValue.flatMap(PictureMode.init(rawValue:))
        else { throw PictureError(path: originalPath, reason: "the decoder's output is incomplete") }
        let samples = data[(newline + 1)...]
        if mode == .I16 {
            guard samples.count == width * height * 2 else {
                throw PictureError(path: originalPath, reason: "the decoder's output is incomplete")
            }
            let words = samples.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
            return Picture(width: width, height: height, grey16: words)
        }
        guard samples.count == width * height * mode.channels else {
            throw PictureError(path: originalPath, reason: "the decoder's output is incomplete")
        }
        return Picture(width: width, height: height, mode: mode, bytes: Array(samples))
    }
}
