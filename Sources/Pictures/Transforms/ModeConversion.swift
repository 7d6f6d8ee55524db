extension Picture {
    /// The picture in `mode`, converted as PIL's `Image.convert` converts: to `L` by ITU-R 601-2
    /// luma in PIL's fixed point, `L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16`; alpha dropped;
    /// grey replicated to RGB; 16-bit grey clipped at 255 (as PIL's `I;16` to `L`).
    public func converted(to target: PictureMode) -> Picture {
        if target == mode { return self }
        let pixels = pixelCount
        switch target {
        case .L:
            return Picture(width: width, height: height, mode: .L, bytes: (0..<pixels).map { luma(at: $0) })
        case .RGB:
            var out = [UInt8](repeating: 0, count: pixels * 3)
            for index in 0..<pixels {
                let (r, g, b, _) = rgba(at: index)
                out[3 * index] = r
                out[3 * index + 1] = g
                out[3 * index + 2] = b
            }
            return Picture(width: width, height: height, mode: .RGB, bytes: out)
        case .RGBA:
            var out = [UInt8](repeating: 0, count: pixels * 4)
            for index in 0..<pixels {
                let (r, g, b, a) = rgba(at: index)
                out.replaceSubrange((4 * index)..<(4 * index + 4), with: [r, g, b, a])
            }
            return Picture(width: width, height: height, mode: .RGBA, bytes: out)
        case .LA:
            var out = [UInt8](repeating: 0, count: pixels * 2)
            for index in 0..<pixels {
                out[2 * index] = luma(at: index)
                out[2 * index + 1] = rgba(at: index).3
            }
            return Picture(width: width, height: height, mode: .LA, bytes: out)
        case .I16:
            let grey = converted(to: .L)
            return Picture(width: width, height: height, grey16: grey.bytes.map(UInt16.init))
        }
    }

    /// Pixel `index` as RGBA, alpha 255 where the mode has none.
    private func rgba(at index: Int) -> (UInt8, UInt8, UInt8, UInt8) {
        switch mode {
        case .L: let v = bytes[index]; return (v, v, v, 255)
        case .I16: let v = UInt8(min(words[index], 255)); return (v, v, v, 255)
        case .LA: let v = bytes[2 * index]; return (v, v, v, bytes[2 * index + 1])
        case .RGB: return (bytes[3 * index], bytes[3 * index + 1], bytes[3 * index + 2], 255)
        case .RGBA: return (bytes[4 * index], bytes[4 * index + 1], bytes[4 * index + 2], bytes[4 * index + 3])
        }
    }

    private func luma(at index: Int) -> UInt8 {
        switch mode {
        case .L: return bytes[index]
        case .LA: return bytes[2 * index]
        case .I16: return UInt8(min(words[index], 255))
        case .RGB, .RGBA:
            let (r, g, b, _) = rgba(at: index)
            let red: UInt32 = 19595 * UInt32(r)
            let green: UInt32 = 38470 * UInt32(g)
            let blue: UInt32 = 7471 * UInt32(b)
            return UInt8((red + green + blue + 0x8000) >> 16)
        }
    }
}
