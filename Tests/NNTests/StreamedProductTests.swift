import Tensor
import TestSupport
import Testing

@testable import NN

/// A 1x1 convolution of one-pixel planes (a squeeze-and-excitation block's) runs on zoo's
/// streamed product (StreamedProduct.swift) instead of oneDNN. PyTorch's outputs for it are in
/// the layer fixtures (`Conv2d/5x_one_pixel_*`, LayerParityTests); these check what they cannot:
/// that a blocked input and a layer that keeps no packed weights give the same output, and that
/// new weights replace the packed ones. The reference is zoo's own im2col kernel, which runs
/// every convolution oneDNN declines and is itself checked against PyTorch.
@Suite("StreamedProduct")
struct StreamedProductTests {
    private static func expectClose(_ got: Tensor, _ expected: Tensor, inChannels: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        PackedLinearTests.expectClose(got, expected, inFeatures: inChannels, sourceLocation: sourceLocation)
    }

    /// The layer with seeded weights, and its output on `x` from zoo's im2col kernel.
    private static func layer(_ inChannels: Int, _ outChannels: Int, bias: Bool, seed: UInt64) throws -> Conv2d {
        let layer = try Conv2d(inChannels: inChannels, outChannels: outChannels, kernelSize: 1, bias: bias)
        try layer.setLocalState("weight", to: seededTensor([outChannels, inChannels, 1, 1], seed: seed))
        if bias { try layer.setLocalState("bias", to: seededTensor([outChannels], seed: seed + 1)) }
        layer.eval()
        return layer
    }

    private static func im2colOutput(_ layer: Conv2d, _ x: Tensor) throws -> Tensor {
        layer.kernels.usesOneDNN = false
        defer { layer.kernels.usesOneDNN = true }
        return try layer(x)
    }

    /// Outputs short of one 64-column panel, across several, and past a whole one; one sample and a batch.
    @Test(arguments: [(1, 1152, 48, true), (3, 48, 1152, true), (2, 20, 70, false), (1, 28, 672, true), (5, 7, 64, true)])
    func aOnePixelInputGivesTheIm2colOutput(batch: Int, inChannels: Int, outChannels: Int, bias: Bool) throws {
        let layer = try Self.layer(inChannels, outChannels, bias: bias, seed: 11)
        let x = seededTensor([batch, inChannels, 1, 1], seed: 12)
        let expected = try Self.im2colOutput(layer, x)
        Self.expectClose(try layer(x), expected, inChannels: inChannels)
        let kept = try #require(try layer.forwardKeepingLayout(.blocked(try BlockedActivation.blocked(x)), epilogue: nil))
        Self.expectClose(try kept.plain(), expected, inChannels: inChannels)
        layer.kernels.keepsPreparedWeights = false
        Self.expectClose(try layer(x), expected, inChannels: inChannels)
    }

    @Test func newWeightsReplaceThePackedOnes() throws {
        let layer = try Self.layer(96, 80, bias: true, seed: 13)
        let x = seededTensor([2, 96, 1, 1], seed: 14)
        _ = try layer(x)
        try layer.setLocalState("weight", to: seededTensor([80, 96, 1, 1], seed: 15))
        Self.expectClose(try layer(x), try Self.im2colOutput(layer, x), inChannels: 96)
    }

    /// A SiLU and a sigmoid after the product (the block's two layers) on zoo's vector kernels.
    @Test(arguments: [ConvolutionActivation.silu, .sigmoid, .relu])
    func theEpilogueIsTheIm2colOnes(activation: ConvolutionActivation) throws {
        let layer = try Self.layer(40, 100, bias: true, seed: 16)
        let x = seededTensor([2, 40, 1, 1], seed: 17, bound: 3)
        let epilogue = ConvolutionEpilogue(scale: nil, shift: nil, activation: activation)
        layer.kernels.usesOneDNN = false
        let expected = try layer.forward(x, epilogue: epilogue)
        layer.kernels.usesOneDNN = true
        Self.expectClose(try layer.forward(x, epilogue: epilogue), expected, inChannels: 40)
    }
}
