/// A 1x1 convolution's weights and bias as zoo's pointwise kernels take them
/// (`pointwise_rows.h`): for each block of 16 output channels, 16 floats (a lane a channel) for
/// each input channel, the padding channels included; the bias 16 a block. Zero for the padding
/// channels on either side.
struct PointwiseKernelWeights: Sendable {
    let inChannels: Int
    let outChannels: Int
    let weights: [Float]
    let bias: [Float]

    /// The packing of `weight` (`(outChannels, inChannels, 1, 1)`, as PyTorch stores it) and
    /// `bias` (`(outChannels)`, zero when nil); nil when their sizes are not those.
    init?(weight: [Float], bias: [Float]?, inChannels: Int, outChannels: Int) {
        guard inChannels > 0, outChannels > 0, weight.count == outChannels * inChannels, bias.map({ $0.count == outChannels }) ?? true
        else { return nil }
        (self.inChannels, self.outChannels) = (inChannels, outChannels)
        let inputLanes = (inChannels + 15) / 16 * 16
        var packed = [Float](repeating: 0, count: (outChannels + 15) / 16 * inputLanes * 16)
        for output in 0..<outChannels {
            for input in 0..<inChannels {
                packed[((output / 16) * inputLanes + input) * 16 + output % 16] = weight[output * inChannels + input]
            }
        }
        weights = packed
        self.bias = (0..<((outChannels + 15) / 16 * 16)).map { $0 < outChannels ? bias?[$0] ?? 0 : 0 }
    }
}
