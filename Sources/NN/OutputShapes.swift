import Tensor

// Every layer's shape rule: what its forward gives for an input shape, so that a caller can know
// a pass's memory before allocating any of it (ModelZoo's memory admission). Each rule checks
// what the layer's forward checks, through the same geometry (PoolingWindow, convolutionProblem).

extension Layer {
    /// A layer's input and its output.
    public func activationBytes(for shape: [Int]) throws -> Int {
        saturatingSum(float32Bytes(shape), float32Bytes(try outputShape(for: shape)))
    }
}

/// The bytes of a float32 tensor of `shape`, or `Int.max` when that overflows.
public func float32Bytes(_ shape: [Int]) -> Int {
    shape.reduce(4) { bytes, size in
        let (product, overflow) = bytes.multipliedReportingOverflow(by: Swift.max(size, 0))
        return overflow ? .max : product
    }
}

func saturatingSum(_ values: Int...) -> Int {
    values.reduce(0) { total, value in
        let (sum, overflow) = total.addingReportingOverflow(value)
        return overflow ? .max : sum
    }
}

/// The same shape: activations, BatchNorm, Dropout, Identity.
protocol ShapePreserving: Layer {}

extension ShapePreserving {
    public func outputShape(for shape: [Int]) throws -> [Int] { shape }
}

extension ReLU: ShapePreserving {}
extension LeakyReLU: ShapePreserving {}
extension Sigmoid: ShapePreserving {}
extension Tanh: ShapePreserving {}
extension Softplus: ShapePreserving {}
extension Dropout: ShapePreserving {}
extension Identity: ShapePreserving {}

extension BatchNorm2d {
    public func outputShape(for shape: [Int]) throws -> [Int] {
        guard shape.count == 4, shape[1] == numFeatures else {
            throw NNError.inputShape(layer: "BatchNorm2d(\(numFeatures))", expected: "(N, \(numFeatures), H, W)", got: shape)
        }
        return shape
    }
}

extension Conv2d {
    public func outputShape(for shape: [Int]) throws -> [Int] {
        guard shape.count == 4, shape[1] == inChannels else {
            throw NNError.inputShape(layer: "Conv2d(\(inChannels), \(outChannels))", expected: "(N, \(inChannels), H, W)", got: shape)
        }
        return try convolutionProblem(shape, pads: paddingAmounts).outputShape
    }
}

extension Conv2d {
    /// Input, output, and one sample's column matrix, which zoo's own kernel builds when oneDNN
    /// declines the case (`in_channels / groups * kH * kW` rows, one column per output pixel).
    public func activationBytes(for shape: [Int]) throws -> Int {
        let output = try outputShape(for: shape)
        let columns = float32Bytes([inChannels / groups * kernelSize.height * kernelSize.width, output[2], output[3]])
        return saturatingSum(float32Bytes(shape), float32Bytes(output), columns)
    }
}

extension ConvTranspose2d {
    /// Input, output, and one sample's column matrix (`out_channels / groups * kH * kW` rows, one
    /// column per input pixel) for zoo's own kernel.
    public func activationBytes(for shape: [Int]) throws -> Int {
        let output = try outputShape(for: shape)
        let columns = float32Bytes([outChannels / groups * kernelSize.height * kernelSize.width, shape[2], shape[3]])
        return saturatingSum(float32Bytes(shape), float32Bytes(output), columns)
    }

    public func outputShape(for shape: [Int]) throws -> [Int] {
        guard shape.count == 4, shape[1] == inChannels else {
            throw NNError.inputShape(
                layer: "ConvTranspose2d(\(inChannels), \(outChannels))", expected: "(N, \(inChannels), H, W)", got: shape)
        }
        return try convolutionProblem(shape).outputShape
    }
}

extension MaxPool2d {
    public func outputShape(for shape: [Int]) throws -> [Int] {
        try PoolingWindow(
            layer: typeName, input: shape, kernel: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode
        ).outputShape
    }
}

extension AvgPool2d {
    public func outputShape(for shape: [Int]) throws -> [Int] {
        try PoolingWindow(
            layer: typeName, input: shape, kernel: kernelSize, stride: stride, padding: padding, dilation: 1, ceilMode: ceilMode
        )
        .outputShape
    }
}

extension AdaptiveAvgPool2d {
    public func outputShape(for shape: [Int]) throws -> [Int] { try adaptivePoolShape(shape, size: outputSize, layer: typeName) }
}

extension AdaptiveMaxPool2d {
    public func outputShape(for shape: [Int]) throws -> [Int] { try adaptivePoolShape(shape, size: outputSize, layer: typeName) }
}

private func adaptivePoolShape(_ shape: [Int], size: AdaptiveOutputSize, layer: String) throws -> [Int] {
    guard shape.count == 4 else { throw NNError.inputShape(layer: layer, expected: "(N, C, H, W)", got: shape) }
    let (height, width) = (size.height ?? shape[2], size.width ?? shape[3])
    guard height > 0, width > 0, shape[2] > 0, shape[3] > 0 else {
        throw NNError.inputShape(layer: layer, expected: "non-empty spatial axes and output size", got: shape)
    }
    return [shape[0], shape[1], height, width]
}

extension Upsample {
    public func outputShape(for shape: [Int]) throws -> [Int] {
        guard shape.count == 4 else { throw NNError.inputShape(layer: typeName, expected: "(N, C, H, W)", got: shape) }
        let scaled = { (size: Int, factor: Double?) -> Int in
            guard let factor else { return 0 }
            let value = (Double(size) * factor).rounded(.down)
            return value < Double(Int.max / 8) ? Int(value) : Int.max / 8
        }
        let height = size?.height ?? scaled(shape[2], scaleFactor?.height)
        let width = size?.width ?? scaled(shape[3], scaleFactor?.width)
        guard height > 0, width > 0 else {
            throw NNError.inputShape(layer: typeName, expected: "an input giving a non-empty output", got: shape)
        }
        return [shape[0], shape[1], height, width]
    }
}

extension Linear {
    public func outputShape(for shape: [Int]) throws -> [Int] {
        guard shape.count >= 1, shape.last == inFeatures else {
            throw NNError.inputShape(layer: "Linear(\(inFeatures), \(outFeatures))", expected: "(*, \(inFeatures))", got: shape)
        }
        return shape.dropLast() + [outFeatures]
    }
}

extension Flatten {
    public func outputShape(for shape: [Int]) throws -> [Int] {
        let rank = Swift.max(shape.count, 1)
        let start = startDim < 0 ? startDim + rank : startDim
        let end = endDim < 0 ? endDim + rank : endDim
        guard start >= 0, end < rank, start <= end else {
            throw NNError.inputShape(
                layer: "Flatten(\(startDim), \(endDim))", expected: "a tensor with axes \(startDim)...\(endDim)", got: shape)
        }
        if shape.isEmpty { return [1] }
        let merged = shape[start...end].reduce(1) { product, size in
            let (value, overflow) = product.multipliedReportingOverflow(by: size)
            return overflow ? Int.max : value
        }
        return Array(shape[..<start]) + [merged] + Array(shape[(end + 1)...])
    }
}

extension Sequential {
    public func outputShape(for shape: [Int]) throws -> [Int] {
        try children.reduce(shape) { shape, child in try child.module.outputShape(for: shape) }
    }

    /// The fullest of its layers: each layer's input is freed once its output exists.
    public func activationBytes(for shape: [Int]) throws -> Int {
        var (shape, peak) = (shape, 0)
        for child in children {
            peak = Swift.max(peak, try child.module.activationBytes(for: shape))
            shape = try child.module.outputShape(for: shape)
        }
        return peak
    }
}

extension BasicBlock {
    public func outputShape(for shape: [Int]) throws -> [Int] {
        let main = try bn2.outputShape(for: try conv2.outputShape(for: try conv1.outputShape(for: shape)))
        let shortcut = try downsample?.outputShape(for: shape) ?? shape
        guard main == shortcut else {
            throw NNError.inputShape(layer: "add", expected: "shape \(main)", got: shortcut)
        }
        return main
    }

    /// The input (kept for the shortcut), both convolutions' outputs and the shortcut's.
    public func activationBytes(for shape: [Int]) throws -> Int {
        let hidden = try conv1.outputShape(for: shape)
        let output = try outputShape(for: shape)
        let shortcut = downsample == nil ? 0 : float32Bytes(output)
        return saturatingSum(float32Bytes(shape), float32Bytes(hidden), float32Bytes(output), shortcut)
    }
}
