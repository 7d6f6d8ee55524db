internal import CPNG

/// PNG through libpng: 8-bit grey, grey+alpha, RGB, RGBA and palette pictures, any bit depth;
/// 16-bit grey stays 16-bit (PIL's `I;16`), 16-bit colour keeps its high byte, as PIL opens them.
enum PNGCodec: PictureDecoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func recognises(_ head: [UInt8]) -> Bool { head.starts(with: signature) }

    static func decode(_ data: [UInt8], path: String, maximumPixels: Int) throws(PictureError) -> Picture {
        var image = zoo_png_image()
        let status = data.withUnsafeBufferPointer { buffer in
            zoo_png_decode(buffer.baseAddress, buffer.count, UInt64(maximumPixels), &image)
        }
        guard status == 0, let pixels = image.pixels else {
            switch image.problem {
            case ZOO_PNG_PROBLEM_TRUNCATED: throw .truncated(path: path, format: .png)
            case ZOO_PNG_PROBLEM_ZERO_PIXELS: throw .zeroPixels(path: path, format: .png)
            case ZOO_PNG_PROBLEM_TOO_MANY_PIXELS: throw .tooManyPixels(path: path, format: .png, limit: maximumPixels)
            case ZOO_PNG_PROBLEM_OUT_OF_MEMORY: throw .outOfMemory(path: path, format: .png)
            default: throw .undecodable(path: path, format: .png, reason: message(of: &image))
            }
        }
        defer { free(pixels) }
        let width = Int(image.width)
        let height = Int(image.height)
        if image.bytes_per_sample == 2 {
            let words = Array(
                UnsafeBufferPointer(start: UnsafeRawPointer(pixels).assumingMemoryBound(to: UInt16.self), count: width * height))
            return Picture(width: width, height: height, grey16: words.map { UInt16(littleEndian: $0) })
        }
        let modes: [Int32: PictureMode] = [1: .L, 2: .LA, 3: .RGB, 4: .RGBA]
        guard let mode = modes[image.channels] else { throw .unsupportedChannels(path: path, count: Int(image.channels)) }
        return Picture(
            width: width, height: height, mode: mode,
            bytes: Array(UnsafeBufferPointer(start: pixels, count: width * height * mode.channels)))
    }

    /// An 8-bit grey or RGB PNG through libpng's simplified writing API, which reports errors as
    /// a status rather than by a jump.
    static func encode(_ picture: Picture, path: String) throws(PictureError) -> [UInt8] {
        guard picture.mode == .L || picture.mode == .RGB else {
            throw .unwritableMode(path: path, picture.mode)
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(picture.width)
        image.height = UInt32(picture.height)
        // PNG_FORMAT_GRAY is 0 and PNG_FORMAT_RGB is PNG_FORMAT_FLAG_COLOR (2); the macros are
        // spelled as expressions Swift does not import.
        image.format = picture.mode == .L ? 0 : 2
        var size: png_alloc_size_t = 0
        let stride = Int32(picture.width * picture.mode.channels)
        guard picture.bytes.withUnsafeBytes({ png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }) != 0
        else { throw .encodingFailed(path: path, reason: warning(of: &image)) }
        var output = [UInt8](repeating: 0, count: Int(size))
        let written = output.withUnsafeMutableBytes { buffer in
            picture.bytes.withUnsafeBytes { png_image_write_to_memory(&image, buffer.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        png_image_free(&image)
        guard written != 0 else { throw .encodingFailed(path: path, reason: warning(of: &image)) }
        return Array(output.prefix(Int(size)))
    }

    private static func message(of image: inout zoo_png_image) -> String {
        withUnsafeBytes(of: &image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private static func warning(of image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
