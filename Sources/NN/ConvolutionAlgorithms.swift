import Synchronization

/// Which algorithms convolutions may use.
///
/// By default a 3x3 stride-1 convolution runs on oneDNN's Winograd kernels where oneDNN offers
/// them (F(4x4, 3x3) or F(2x2, 3x3) by shape): about 1.6x faster on resnet18, and on a whole
/// torchvision resnet18 (four 224x224 inputs) its outputs differed from PyTorch's by at most
/// 4.6e-7 (direct: 4.2e-7), far inside the parity rule of 1e-5 x max(1, max |y|). Switch it off
/// to run the direct kernels PyTorch's eager mode runs. Layers that do not keep prepared weights
/// (``ConvolutionKernels/keepsPreparedWeights``) run direct kernels either way.
public enum ConvolutionAlgorithms {
    private static let winograd = Atomic<Bool>(true)

    public static var allowsWinograd: Bool { winograd.load(ordering: .relaxed) }

    /// Applies from the next forward pass on (layers keep kernels of both kinds by input shape).
    public static func allowWinograd(_ allowed: Bool) { winograd.store(allowed, ordering: .relaxed) }
}

/// Which kernels one convolution layer (``Conv2d``, ``ConvTranspose2d``) runs on.
public struct ConvolutionKernels: Sendable, Equatable {
    /// Whether the layer may run on oneDNN's kernels (the default); false runs zoo's own im2col
    /// and GEMM, which serve the cases oneDNN declines, so that tests can check both paths.
    public var usesOneDNN = true
    /// Whether oneDNN's kernels keep the layer's weights in their own layout between calls (the
    /// default: fastest, one more copy of the weights, four times them for Winograd) or reorder
    /// them on every call and use direct kernels only (no lasting copy; `zoo verify` runs this
    /// way to bound its memory).
    public var keepsPreparedWeights = true

    public init(usesOneDNN: Bool = true, keepsPreparedWeights: Bool = true) {
        self.usesOneDNN = usesOneDNN
        self.keepsPreparedWeights = keepsPreparedWeights
    }
}

/// A layer whose kernels can be chosen: the convolutions.
public protocol ConvolutionKernelChoosing: AnyObject {
    var kernels: ConvolutionKernels { get set }
}
