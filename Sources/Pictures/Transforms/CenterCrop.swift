extension Picture {
    /// The centre `height` x `width` region, as torchvision's `CenterCrop` takes it: a picture
    /// smaller than the crop is first padded with zeros (the odd pixel on the right and bottom),
    /// and the offsets are `round((size - crop) / 2)` with Python's round half to even.
    public func centerCropped(height cropHeight: Int, width cropWidth: Int) -> Picture {
        precondition(cropHeight > 0 && cropWidth > 0, "a crop needs a positive size")
        var source = self
        if cropWidth > width || cropHeight > height {
            let left = cropWidth > width ? (cropWidth - width) / 2 : 0
            let top = cropHeight > height ? (cropHeight - height) / 2 : 0
            let right = cropWidth > width ? (cropWidth - width + 1) / 2 : 0
            let bottom = cropHeight > height ? (cropHeight - height + 1) / 2 : 0
            source = padded(left: left, top: top, right: right, bottom: bottom)
        }
        if source.width == cropWidth && source.height == cropHeight { return source }
        let top = Int((Double(source.height - cropHeight) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(source.width - cropWidth) / 2).rounded(.toNearestOrEven))
        return source.cropped(top: top, left: left, height: cropHeight, width: cropWidth)
    }

    func cropped(top: Int, left: Int, height cropHeight: Int, width cropWidth: Int) -> Picture {
        let channels = mode.channels
        if mode == .I16 {
            var out: [UInt16] = []
            out.reserveCapacity(cropHeight * cropWidth)
            for row in top..<(top + cropHeight) { out += words[(row * width + left)..<(row * width + left + cropWidth)] }
            return Picture(width: cropWidth, height: cropHeight, grey16: out)
        }
        var out: [UInt8] = []
        out.reserveCapacity(cropHeight * cropWidth * channels)
        for row in top..<(top + cropHeight) {
            out += bytes[((row * width + left) * channels)..<((row * width + left + cropWidth) * channels)]
        }
        return Picture(width: cropWidth, height: cropHeight, mode: mode, bytes: out)
    }

    func padded(left: Int, top: Int, right: Int, bottom: Int) -> Picture {
        let newWidth = width + left + right
        let newHeight = height + top + bottom
        let channels = mode.channels
        if mode == .I16 {
            var out = [UInt16](repeating: 0, count: newWidth * newHeight)
            for row in 0..<height {
                out.replaceSubrange(
                    ((row + top) * newWidth + left)..<((row + top) * newWidth + left + width),
                    with: words[(row * width)..<((row + 1) * width)])
            }
            return Picture(width: newWidth, height: newHeight, grey16: out)
        }
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        for row in 0..<height {
            let target = ((row + top) * newWidth + left) * channels
            out.replaceSubrange(
                target..<(target + width * channels), with: bytes[(row * width * channels)..<((row + 1) * width * channels)])
        }
        return Picture(width: newWidth, height: newHeight, mode: mode, bytes: out)
    }
}
