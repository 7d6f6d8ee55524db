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
        let (rows, columns) = taps(height: height, width: width, outHeight: outHeight, outWidth: outWidth)
        let output = resample(
            input.scalars, planes: batch * channels, height: height, width: width, rows: rows, columns: columns, nearest: mode == .nearest)
        return Tensor(shape: [batch, channels, outHeight, outWidth], scalars: output)
    }

    /// The source pixels each output row and column reads, for this layer's mode.
    func taps(height: Int, width: Int, outHeight: Int, outWidth: Int) -> (rows: [SourceTaps], columns: [SourceTaps]) {
        switch mode {
        case .nearest:
            return (
                nearestTaps(input: height, output: outHeight, scale: scaleFactor?.height),
                nearestTaps(input: width, output: outWidth, scale: scaleFactor?.width)
            )
        case .bilinear:
            return (
                linearTaps(input: height, output: outHeight, scale: scaleFactor?.height, alignCorners: alignCorners),
                linearTaps(input: width, output: outWidth, scale: scaleFactor?.width, alignCorners: alignCorners)
            )
        }
    }
}
