import Containment
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Decoding untrusted pictures where a fault or a hang in libpng or libjpeg cannot take the
/// caller down: the decode runs in a child process (`zoo contained-decode REQUEST`, the request a
/// `ContainedRequest`) with a wall-clock limit, and hands back the pixels as a raw file (a
/// `ContainedResultHeader` line with the size and mode, then the samples) that the caller reads
/// with Swift alone.
public enum ContainedDecoding {
    /// The header of the decoded pixels.
    struct Fields: Codable, Sendable {
        var width: Int
        var height: Int
        var mode: String
    }

    public static func read(_ path: String, timeout: Double = 60, decoder: URL) throws(PictureError) -> Picture {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-picture-\(UUID().uuidString).raw")
        defer { unlink(scratch.path) }
        do {
            try ChildProcess.serve(
                ContainedRequest(task: .decodePicture, path: path, output: scratch.path), with: decoder, timeout: timeout)
            return try readRaw(scratch.path)
        } catch {
            throw .contained(path: path, failure: error)
        }
    }

    /// The child's side: decodes the picture `argument` (a `ContainedRequest` as JSON) names in
    /// this process and writes the raw pixels where it says.
    public static func serve(argument: String) throws(PictureError) {
        let request: ContainedRequest
        do { request = try ContainedRequest(argument: argument) } catch { throw .contained(path: "", failure: error) }
        guard request.task == .decodePicture else { throw .contained(path: request.path, failure: .malformedRequest(argument)) }
        let picture = try PictureFile.read(request.path)
        var data = Data()
        if picture.mode == .I16 {
            picture.words.withUnsafeBytes { data.append(contentsOf: $0) }
        } else {
            data.append(contentsOf: picture.bytes)
        }
        let header = ContainedResultHeader(
            task: .decodePicture, fields: Fields(width: picture.width, height: picture.height, mode: picture.mode.rawValue))
        do { try header.write(payload: data, to: request.output) } catch { throw .contained(path: request.path, failure: error) }
    }

    private static func readRaw(_ scratch: String) throws(ContainmentFailure) -> Picture {
        let (header, samples) = try ContainedResultHeader<Fields>.read(from: scratch, task: .decodePicture)
        let (width, height) = (header.fields.width, header.fields.height)
        guard width > 0, height > 0, let mode = PictureMode(rawValue: header.fields.mode) else { throw .incompleteAnswer }
        if mode == .I16 {
            guard samples.count == width * height * 2 else { throw .incompleteAnswer }
            let words = samples.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
            return Picture(width: width, height: height, grey16: words)
        }
        guard samples.count == width * height * mode.channels else { throw .incompleteAnswer }
        return Picture(width: width, height: height, mode: mode, bytes: Array(samples))
    }
}
