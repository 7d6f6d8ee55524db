import Containment

/// The picture formats zoo decodes, as messages name them.
public enum PictureFormat: String, Sendable, Equatable, Codable {
    case png = "PNG"
    case jpeg = "JPEG"
}

/// Why a picture could not be read or written. Every case names the file; the description is the
/// one line the command prints, and callers match on the cases.
public enum PictureError: Error, Sendable, Equatable, CustomStringConvertible {
    case noSuchFile(path: String)
    case directory(path: String)
    case unreadable(path: String)
    /// The file has no bytes at all.
    case empty(path: String)
    /// Neither PNG nor JPEG by its first bytes (whatever its name says).
    case notAPicture(path: String)
    /// The file ends before the picture does.
    case truncated(path: String, format: PictureFormat)
    /// A CMYK (or YCCK) JPEG; zoo reads greyscale and RGB.
    case cmyk(path: String)
    /// The header gives a width or a height of 0.
    case zeroPixels(path: String, format: PictureFormat)
    /// More pixels than `limit` (``PictureLimits/maximumPixels`` by default): a decompression bomb.
    case tooManyPixels(path: String, format: PictureFormat, limit: Int)
    case outOfMemory(path: String, format: PictureFormat)
    /// The decoder's own error, in its words.
    case undecodable(path: String, format: PictureFormat, reason: String)
    /// A PNG whose channel count maps to no mode zoo reads.
    case unsupportedChannels(path: String, count: Int)
    /// zoo writes 8-bit grey and RGB only.
    case unwritableMode(path: String, PictureMode)
    case encodingFailed(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    /// The contained decoder (a child process) failed, crashed or ran out of time.
    case contained(path: String, failure: ContainmentFailure)

    public var path: String {
        switch self {
        case .noSuchFile(let path), .directory(let path), .unreadable(let path), .empty(let path), .notAPicture(let path),
            .truncated(let path, _), .cmyk(let path), .zeroPixels(let path, _), .tooManyPixels(let path, _, _),
            .outOfMemory(let path, _), .undecodable(let path, _, _), .unsupportedChannels(let path, _), .unwritableMode(let path, _),
            .encodingFailed(let path, _), .writeFailed(let path, _), .contained(let path, _):
            return path
        }
    }

    /// The problem, without the file's name.
    public var reason: String {
        switch self {
        case .noSuchFile: return "no such file"
        case .directory: return "a directory, not a picture"
        case .unreadable: return "cannot be read"
        case .empty: return "the file is empty (0 bytes)"
        case .notAPicture: return "not a picture zoo reads (PNG or JPEG)"
        case .truncated(_, let format): return "not a readable \(format.rawValue): the file is truncated"
        case .cmyk: return "not a readable JPEG: a CMYK JPEG; zoo reads greyscale and RGB JPEGs (convert it to RGB first)"
        case .zeroPixels(_, let format): return "not a readable \(format.rawValue): the picture has zero width or height"
        case .tooManyPixels(_, let format, _):
            return "not a readable \(format.rawValue): the picture has more pixels than the decoded-pixel cap"
        case .outOfMemory(_, let format): return "not a readable \(format.rawValue): out of memory for the decoded picture"
        case .undecodable(_, let format, let reason): return "not a readable \(format.rawValue): \(reason)"
        case .unsupportedChannels(_, let count): return "a PNG with \(count) channels"
        case .unwritableMode(_, let mode): return "zoo writes 8-bit grey or RGB PNGs, not \(mode.rawValue)"
        case .encodingFailed(_, let reason): return "libpng cannot encode: \(reason)"
        case .writeFailed(_, let reason): return "cannot write: \(reason)"
        case .contained(_, let failure): return Self.describe(failure)
        }
    }

    public var description: String {
        if case .contained(_, .failed(_, let message)) = self, !message.isEmpty { return message }
        return "\(path): \(reason)"
    }

    private static func describe(_ failure: ContainmentFailure) -> String {
        switch failure {
        case .cannotStart(_, let reason): return "cannot start the decoder process: \(reason)"
        case .timedOut(let seconds): return "decoding took longer than \(Int(seconds)) s and was stopped; the picture may be crafted"
        case .crashed(let signal): return "the decoder crashed (signal \(signal)) on this picture; it is damaged or crafted"
        case .failed: return "the decoder failed"
        case .incompleteAnswer: return "the decoder's output is incomplete"
        case .malformedRequest(let argument): return "not a contained-decode request: \(argument)"
        case .cannotWriteAnswer(_, let reason): return "cannot write the decoded pixels: \(reason)"
        }
    }
}
