/// PyTorch's pooling output size: `floor_or_ceil((in + 2p - d(k-1) - 1) / s) + 1`, where in
/// ceil mode a last window that would start in the right padding is dropped.
func pooledSize(input: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, ceilMode: Bool) -> Int {
    let span = input + 2 * padding - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0)
    var size = floorDivide(span, stride) + 1
    if ceilMode && (size - 1) * stride >= input + padding { size -= 1 }
    return size
}

func floorDivide(_ a: Int, _ b: Int) -> Int {
    let quotient = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
}

/// Checks an NCHW input for a pooling layer and the PyTorch rule `padding <= kernel / 2`.
func validatePooling(layer: String, input: [Int], kernel: IntPair, padding: IntPair, dilation: IntPair = 1) throws {
    guard input.count == 4 else {
        throw NNError.inputShape(layer: layer, expected: "(N, C, H, W)", got: input)
    }
    guard padding.height <= kernel.height / 2, padding.width <= kernel.width / 2 else {
        throw NNError.invalidArgument(layer: layer, argument: "padding", reason: "\(padding) should be at most half of kernel size \(kernel)")
    }
}
