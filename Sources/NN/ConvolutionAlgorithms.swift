/// Which algorithms convolutions may use.
///
/// By default a 3x3 stride-1 convolution runs on oneDNN's Winograd kernels where oneDNN offers
/// them (F(4x4, 3x3) or F(2x2, 3x3) by shape): about 1.6x faster on resnet18, and on a whole
/// torchvision resnet18 (four 224x224 inputs) its outputs differed from PyTorch's by at most
/// 4.6e-7 (direct: 4.2e-7), far inside the parity rule of 1e-5 x max(1, max |y|). Switch it off
/// to run the direct kernels PyTorch's eager mode runs. Layers that do not keep prepared weights
/// (``Conv2d/keepsPreparedWeights``) run direct kernels either way.
public enum ConvolutionAlgorithms {
    nonisolated(unsafe) private static var winograd = true

    public static var allowsWinograd: Bool { winograd }

    /// Applies from the next forward pass on (layers keep kernels of both kinds by input shape).
    public static func allowWinograd(_ allowed: Bool) { winograd = allowed }
}
