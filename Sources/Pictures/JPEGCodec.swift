internal import CJPEG

/// JPEG through libjpeg-turbo: baseline and progressive, greyscale and colour (decoded to RGB as
/// PIL decodes it, the default islow DCT and fancy upsampling). CMYK is refused.
enum JPEGCodec: PictureDecoder {
    static func recognises(_ head: [UInt8]) -> Bool { head.starts(with: [0xFF, 0xD8, 0xFF]) }

    static func decode(_ data: [UInt8], path: String, maximumPixels: Int) throws(PictureError) -> Picture {
        var image = zoo_jpeg_image()
        let status = data.withUnsafeBufferPointer { buffer in
            zoo_jpeg_decode(buffer.baseAddress, buffer.count, UInt64(maximumPixels), &image)
        }
        let message = withUnsafeBytes(of: &image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard status == 0, let pixels = image.pixels else {
            switch image.problem {
            case ZOO_JPEG_PROBLEM_CMYK: throw .cmyk(path: path)
            case ZOO_JPEG_PROBLEM_ZERO_PIXELS: throw .zeroPixels(path: path, format: .jpeg)
            case ZOO_JPEG_PROBLEM_TOO_MANY_PIXELS: throw .tooManyPixels(path: path, format: .jpeg, limit: maximumPixels)
            case ZOO_JPEG_PROBLEM_OUT_OF_MEMORY: throw .outOfMemory(path: path, format: .jpeg)
            default: throw .undecodable(path: path, format: .jpeg, reason: message.isEmpty ? "libjpeg error" : message)
            }
        }
        defer { free(pixels) }
        let mode: PictureMode = image.channels == 1 ? .L : .RGB
        let count = Int(image.width) * Int(image.height) * mode.channels
        return Picture(
            width: Int(image.width), height: Int(image.height), mode: mode, bytes: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }
}
