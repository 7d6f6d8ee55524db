/// How a picture's samples are laid out, as PIL's image modes.
public enum PictureMode: String, Sendable, Equatable, CaseIterable {
    /// 8-bit grey.
    case L
    /// 8-bit grey and alpha.
    case LA
    case RGB
    case RGBA
    /// 16-bit grey (PIL's `I;16`), as 16-bit greyscale PNGs open.
    case I16 = "I;16"

    public var channels: Int {
        switch self {
        case .L, .I16: return 1
        case .LA: return 2
        case .RGB: return 3
        case .RGBA: return 4
        }
    }
}

/// A decoded picture: row-major, channels interleaved (HWC), as PIL holds it.
public struct Picture: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let mode: PictureMode
    /// Samples of 8-bit modes, `height * width * channels`.
    public let bytes: [UInt8]
    /// Samples of `I;16`, `height * width`.
    public let words: [UInt16]

    public init(width: Int, height: Int, mode: PictureMode, bytes: [UInt8]) {
        precondition(mode != .I16 && bytes.count == width * height * mode.channels, "\(mode) \(width)x\(height) needs other samples")
        self.width = width
        self.height = height
        self.mode = mode
        self.bytes = bytes
        self.words = []
    }

    public init(width: Int, height: Int, grey16 words: [UInt16]) {
        precondition(words.count == width * height, "I;16 \(width)x\(height) needs \(width * height) samples")
        self.width = width
        self.height = height
        self.mode = .I16
        self.bytes = []
        self.words = words
    }

    public var pixelCount: Int { width * height }
}

/// Limits on what a picture may ask the decoder to allocate.
public enum PictureLimits {
    /// PIL refuses pictures over twice its `MAX_IMAGE_PIXELS` (89,478,485) as decompression bombs;
    /// zoo refuses them at the same size.
    public static let maximumPixels = 2 * 89_478_485
}
