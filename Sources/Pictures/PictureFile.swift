import Foundation

/// One picture format behind the shared reading interface: a new codec is a new type here,
/// registered in ``PictureFile``, not a branch in every command.
protocol PictureDecoder: Sendable {
    /// True when `head` (the file's first bytes) starts as this format does.
    static func recognises(_ head: [UInt8]) -> Bool
    static func decode(_ data: [UInt8], path: String, maximumPixels: Int) throws(PictureError) -> Picture
}

/// Reads pictures by content (PNG, JPEG), never by extension, and writes PNG.
public enum PictureFile {
    static let decoders: [any PictureDecoder.Type] = [PNGCodec.self, JPEGCodec.self]

    /// Decodes the picture at `path`; a file that is no picture, truncated, too large or in a
    /// mode zoo does not read throws a ``PictureError`` naming the file and the problem.
    public static func read(_ path: String, maximumPixels: Int = PictureLimits.maximumPixels) throws(PictureError) -> Picture {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw isDirectory.boolValue ? .directory(path: path) : .noSuchFile(path: path)
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        let bytes = [UInt8](data)
        guard !bytes.isEmpty else { throw .empty(path: path) }
        guard let decoder = decoders.first(where: { $0.recognises(Array(bytes.prefix(16))) }) else {
            throw .notAPicture(path: path)
        }
        return try decoder.decode(bytes, path: path, maximumPixels: maximumPixels)
    }

    /// Writes an 8-bit grey (`L`) or `RGB` picture as PNG, atomically.
    public static func writePNG(_ picture: Picture, to path: String) throws(PictureError) {
        let data = try PNGCodec.encode(picture, path: path)
        do { try Data(data).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}
