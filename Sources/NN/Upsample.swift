import Foundation
import Tensor

/// Resizes the spatial axes of an NCHW input, as PyTorch's `nn.Upsample`.
///
/// Give `size` or `scaleFactor`. With a scale factor the output is `floor(H * scale)` and source
/// coordinates use `1 / scale`, as PyTorch does without `recompute_scale_factor`; with a size they
/// use `H_in / H_out`. `nearest` takes `floor(dst * scale)`. `bilinear` maps
/// `src = (dst + 0.5) * scale - 0.5` (clamped at 0), or `dst * (H_in - 1) / (H_out - 1)` with
/// `align_corners`.
public final class Upsample: ModuleBase, Layer {
    public enum Mode: String, Sendable, CaseIterable { case nearest, bilinear }

    public let size: IntPair?
    public let scaleFactor: (height: Double, width: Double)?
    public let mode: Mode
    public let alignCorners: Bool

    public init(size: IntPair? = nil, scaleFactor: (height: Double, width: Double)? = nil, mode: Mode = .nearest, alignCorners: Bool? = nil)
        throws
    {
        guard (size == nil) != (scaleFactor == nil) else {
            throw NNError.invalidArgument(layer: "Upsample", argument: "size", reason: "give exactly one of size and scale_factor")
        }
        if mode == .nearest && alignCorners != nil {
            throw NNError.invalidArgument(
                layer: "Upsample", argument: "align_corners", reason: "align_corners can only be set with the interpolating modes: bilinear"
            )
        }
        if let scaleFactor, scaleFactor.height <= 0 || scaleFactor.width <= 0 {
            throw NNError.invalidArgument(layer: "Upsample", argument: "scale_factor", reason: "must be positive")
        }
        self.size = size
        self.scaleFactor = scaleFactor
        self.mode = mode
        self.alignCorners = alignCorners ?? false
        super.init()
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 4 else { throw NNError.inputShape(layer: typeName, expected: "(N, C, H, W)", got: input.shape) }
        let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let outHeight = size?.height ?? Int((Double(height) * scaleFactor!.height).rounded(.down))
        let outWidth = size?.width ?? Int((Double(width) * scaleFactor!.width).rounded(.down))
        guard outHeight > 0, outWidth > 0 else {
            throw NNError.inputShape(layer: typeName, expected: "an input giving a non-empty output", got: input.shape)
        }
        let rows: [(Int, Int, Float)]
        let columns: [(Int, Int, Float)]
        switch mode {
        case .nearest:
            rows = nearestIndices(input: height, output: outHeight, scale: scaleFactor?.height)
            columns = nearestIndices(input: width, output: outWidth, scale: scaleFactor?.width)
        case .bilinear:
            rows = linearWeights(input: height, output: outHeight, scale: scaleFactor?.height)
            columns = linearWeights(input: width, output: outWidth, scale: scaleFactor?.width)
        }
        let x = input.scalars
        var y = [Float](repeating: 0, count: batch * channels * outHeight * outWidth)
        for plane in 0..<(batch * channels) {
            let inBase = plane * height * width
            let outBase = plane * outHeight * outWidth
            for (oh, (h0, h1, hl)) in rows.enumerated() {
                for (ow, (w0, w1, wl)) in columns.enumerated() {
                    let top = (1 - wl) * x[inBase + h0 * width + w0] + wl * x[inBase + h0 * width + w1]
                    let bottom = (1 - wl) * x[inBase + h1 * width + w0] + wl * x[inBase + h1 * width + w1]
                    y[outBase + oh * outWidth + ow] = mode == .nearest ? x[inBase + h0 * width + w0] : (1 - hl) * top + hl * bottom
                }
            }
        }
        return Tensor(shape: [batch, channels, outHeight, outWidth], scalars: y)
    }

    /// PyTorch's float scale: `1 / scale_factor` when one was given, else `in / out`.
    private func sourceScale(input: Int, output: Int, scale: Double?) -> Float {
        if let scale, scale > 0 { return Float(1.0 / scale) }
        return Float(input) / Float(output)
    }

    private func nearestIndices(input: Int, output: Int, scale: Double?) -> [(Int, Int, Float)] {
        let factor = sourceScale(input: input, output: output, scale: scale)
        return (0..<output).map { index in
            let source = output == input ? index : Swift.min(Int((Float(index) * factor).rounded(.down)), input - 1)
            return (source, source, 0)
        }
    }

    private func linearWeights(input: Int, output: Int, scale: Double?) -> [(Int, Int, Float)] {
        let factor: Float =
            alignCorners
            ? (output > 1 ? Float(input - 1) / Float(output - 1) : 0)
            : sourceScale(input: input, output: output, scale: scale)
        return (0..<output).map { index in
            let source: Float =
                alignCorners
                ? factor * Float(index)
                : Swift.max(factor * (Float(index) + 0.5) - 0.5, 0)
            let lower = Swift.min(Int(source), input - 1)
            let upper = lower + (lower < input - 1 ? 1 : 0)
            let weight = Swift.min(Swift.max(source - Float(lower), 0), 1)
            return (lower, upper, weight)
        }
    }
}
