import Tensor
import TestSupport
import Testing

@testable import NN

/// A graph holds activations in oneDNN's 16-channel blocked layout between the layers that can
/// read it; each of those layers must give, reordered out, exactly what it gives on the plain
/// tensor, channel counts that leave padding in the last block (24, 40) included, and must leave
/// that padding zero for the next layer.
@Suite("BlockedLayout")
struct BlockedLayoutTests {
    /// The padding lanes (channels past C in the last block) of every pixel.
    private static func padding(_ value: BlockedActivation) -> [Float] {
        let (channels, pixels) = (value.shape[1], value.shape[2] * value.shape[3])
        let blocks = value.paddedChannels / 16
        var lanes: [Float] = []
        for sample in 0..<value.shape[0] {
            let start = ((sample * blocks) + blocks - 1) * pixels * 16
            for pixel in 0..<pixels {
                for lane in (channels % 16 == 0 ? 16 : channels % 16)..<16 { lanes.append(value.floats[start + pixel * 16 + lane]) }
            }
        }
        return lanes
    }

    private static func blocked(_ tensor: Tensor) throws -> BlockedActivation { try BlockedActivation.blocked(tensor) }

    @Test(arguments: [[2, 24, 5, 7], [1, 32, 3, 3], [3, 40, 1, 1]])
    func reorderingInAndOutKeepsTheValues(shape: [Int]) throws {
        let x = seededTensor(shape, seed: 1, bound: 2)
        let value = try Self.blocked(x)
        #expect(try value.plain().scalars == x.scalars)
        #expect(Self.padding(value).allSatisfy { $0 == 0 })
    }

    @Test(arguments: [false, true])
    func residualAddsAreThePlainOnes(thenReLU: Bool) throws {
        let (a, b) = (seededTensor([2, 24, 6, 5], seed: 2, bound: 2), seededTensor([2, 24, 6, 5], seed: 3, bound: 2))
        let sum = try blockedAdd(try Self.blocked(a), try Self.blocked(b), thenReLU: thenReLU)
        #expect(try sum.plain().scalars == residualAdd(a, b, thenReLU: thenReLU).scalars)
        #expect(Self.padding(sum).allSatisfy { $0 == 0 })
    }

    /// DenseNet's `cat([x0, f1])`, `cat([x0, f1, f2])`, ... for one sample: each later
    /// concatenation appends to the buffer the first laid out, every result equals the copying
    /// concatenation's (padding of a last part that does not fill its block included), earlier
    /// results stay as they were, a branch off an earlier prefix gets a buffer of its own, and
    /// nothing may write over a value that shares its buffer.
    @Test func growingConcatenationsAreTheCopyingOnes() throws {
        let sizes = [("x0", 32), ("f1", 16), ("f2", 16), ("f3", 6), ("g2", 16)]
        var parts: [String: BlockedActivation] = [:]
        for (seed, (name, channels)) in sizes.enumerated() {
            parts[name] = try Self.blocked(seededTensor([1, channels, 3, 5], seed: UInt64(20 + seed), bound: 2))
        }
        let values = GraphLayoutValues([:])
        func grow(_ names: [String]) throws -> BlockedActivation? {
            try values.growingConcatenation(of: names, parts: names.map { parts[$0]! }, capacity: 70)
        }
        func expected(_ names: [String]) throws -> [Float] { try blockedConcatenation(names.map { parts[$0]! }).plain().scalars }
        let first = try #require(try grow(["x0", "f1"]))
        let second = try #require(try grow(["x0", "f1", "f2"]))
        let third = try #require(try grow(["x0", "f1", "f2", "f3"]))
        #expect(first.buffer === second.buffer && second.buffer === third.buffer, "later concatenations must extend the first's buffer")
        #expect(try first.plain().scalars == expected(["x0", "f1"]))
        #expect(try second.plain().scalars == expected(["x0", "f1", "f2"]))
        #expect(try third.plain().scalars == expected(["x0", "f1", "f2", "f3"]))
        #expect(Self.padding(third).allSatisfy { $0 == 0 })
        let branch = try #require(try grow(["x0", "f1", "g2"]))
        #expect(branch.buffer !== first.buffer)
        #expect(try branch.plain().scalars == expected(["x0", "f1", "g2"]))
        #expect(try second.plain().scalars == expected(["x0", "f1", "f2"]), "a branch must leave the first chain as it was")
        // Two samples, or no room past the parts: the copying concatenation's job.
        let pair = try Self.blocked(seededTensor([2, 16, 3, 5], seed: 30, bound: 2))
        #expect(try values.growingConcatenation(of: ["a", "b"], parts: [pair, pair], capacity: 64) == nil)
        #expect(try values.growingConcatenation(of: ["y", "z"], parts: [parts["x0"]!, parts["f1"]!], capacity: 48) == nil)
        values.store(.blocked(third), as: "third")
        #expect(!values.isSolelyHeld("third"), "a value sharing its buffer must not be written over")
    }

    /// In a buffer of its own, or written over the input (a graph's last use of it).
    @Test(arguments: [false, true])
    func channelScalingIsThePlainOne(overwriting: Bool) throws {
        let (x, scales) = (seededTensor([2, 40, 4, 3], seed: 4, bound: 2), seededTensor([2, 40, 1, 1], seed: 5, bound: 2))
        let input = try Self.blocked(x)
        let scaled = try blockedScaleChannels(input, by: scales.scalars, overwriting: overwriting)
        #expect(try scaled.plain().scalars == scalePlanes(x.scalars, by: scales.scalars))
        #expect(Self.padding(scaled).allSatisfy { $0 == 0 })
        #expect((scaled === input) == overwriting)
        if !overwriting { #expect(try input.plain().scalars == x.scalars, "the input must be left as it was") }
    }

    @Test func concatenationIsThePlainOne() throws {
        let parts = [
            seededTensor([2, 32, 3, 4], seed: 6, bound: 2), seededTensor([2, 16, 3, 4], seed: 7, bound: 2),
            seededTensor([2, 24, 3, 4], seed: 8, bound: 2),
        ]
        let joined = try blockedConcatenation(try parts.map(Self.blocked))
        var expected: [Float] = []
        for sample in 0..<2 {
            for part in parts {
                let span = part.count / 2
                expected += part.scalars[(sample * span)..<((sample + 1) * span)]
            }
        }
        #expect(joined.shape == [2, 72, 3, 4])
        #expect(try joined.plain().scalars == expected)
        #expect(Self.padding(joined).allSatisfy { $0 == 0 })
    }

    @Test func batchNormThenReLUIsThePlainOne() throws {
        let x = seededTensor([2, 24, 5, 5], seed: 9, bound: 2)
        let (scale, shift) = (seededTensor([24], seed: 10, bound: 2).scalars, seededTensor([24], seed: 11, bound: 2).scalars)
        let output = try blockedAffineReLU(try Self.blocked(x), scale: scale, shift: shift)
        let expected = ConvolutionEpilogue(scale: scale, shift: shift, activation: .relu).applied(toPlanesOf: x)
        #expect(try output.plain().scalars == expected.scalars)
        #expect(Self.padding(output).allSatisfy { $0 == 0 })
    }

    /// A squeeze-and-excitation block's SiLU takes the channel means on the way: the values are
    /// the SiLU's, the means the pooling's of them, the padding stays zero; at sizes whose blocks
    /// run on one thread and on several.
    @Test(arguments: [[1, 40, 5, 7], [2, 24, 3, 3], [1, 16, 1, 1], [1, 96, 56, 56]])
    func siluKeepingMeansIsTheSiLUThenThePooling(shape: [Int]) throws {
        let x = seededTensor(shape, seed: 13, bound: 12)
        let fused = try Self.blocked(x)
        fused.applySiLUKeepingMeans()
        let apart = try Self.blocked(x)
        applyBlockedEpilogue(ConvolutionEpilogue(scale: nil, shift: nil, activation: .silu), from: apart, to: apart)
        #expect(try fused.plain().scalars == apart.plain().scalars)
        #expect(fused.channelMeans?.shape == [shape[0], shape[1], 1, 1])
        #expect(fused.channelMeans?.scalars == blockedChannelMeans(apart).scalars)
        #expect(Self.padding(fused).allSatisfy { $0 == 0 })
    }

    @Test func channelMeansAreThePlainOnes() throws {
        let x = seededTensor([2, 40, 7, 7], seed: 12, bound: 2)
        let expected = try AdaptiveAvgPool2d(outputSize: AdaptiveOutputSize(height: 1, width: 1))(x)
        #expect(blockedChannelMeans(try Self.blocked(x)).scalars == expected.scalars)
    }

    /// Max pooling, NaN kept, with and without padding (ResNet's and DenseNet's 3x3/2 stem pool).
    @Test(arguments: [(3, 2, 1), (2, 2, 0)])
    func maxPoolingIsThePlainOne(kernel: Int, stride: Int, padding: Int) throws {
        var values = seededTensor([2, 24, 9, 11], seed: 13, bound: 2).scalars
        for index in [0, 17, 400, 2001] { values[index] = .nan }
        let x = Tensor(shape: [2, 24, 9, 11], scalars: values)
        let layer = try MaxPool2d(kernelSize: IntPair(kernel, kernel), stride: IntPair(stride, stride), padding: IntPair(padding, padding))
        let expected = try layer(x)
        let output = try blockedMaxPool(try Self.blocked(x), try layer.window(for: x.shape)).plain()
        #expect(output.shape == expected.shape)
        for (got, want) in zip(output.scalars, expected.scalars) { #expect(got == want || (got.isNaN && want.isNaN)) }
    }

    /// Average pooling, padded windows divided either way (DenseNet's transitions are 2x2/2).
    @Test(arguments: [(2, 2, 0, true), (3, 2, 1, true), (3, 2, 1, false)])
    func averagePoolingIsThePlainOne(kernel: Int, stride: Int, padding: Int, countIncludePad: Bool) throws {
        let x = seededTensor([2, 24, 9, 11], seed: 14, bound: 2)
        let layer = try AvgPool2d(
            kernelSize: IntPair(kernel, kernel), stride: IntPair(stride, stride), padding: IntPair(padding, padding),
            countIncludePad: countIncludePad)
        let output = try blockedAveragePool(
            try Self.blocked(x), try layer.window(for: x.shape), countIncludePad: countIncludePad, divisorOverride: nil)
        #expect(try output.plain().scalars == layer(x).scalars)
        #expect(Self.padding(output).allSatisfy { $0 == 0 })
    }

    /// A convolution reading and writing the blocked layout computes what it computes on plain
    /// tensors (the same primitive: only the reorders around it are skipped).
    @Test(arguments: [(24, 40, 1), (40, 40, 40), (16, 24, 1)])
    func convolutionsKeepingTheLayoutAreThePlainOnes(inChannels: Int, outChannels: Int, groups: Int) throws {
        let conv = try Conv2d(inChannels: inChannels, outChannels: outChannels, kernelSize: 3, padding: 1, groups: groups)
        var generator = SeededGenerator(seed: 15)
        try conv.setLocalState(
            "weight", to: Tensor(shape: conv.weight.shape, scalars: generator.uniform(count: conv.weight.count, bound: 1)))
        let x = seededTensor([2, inChannels, 8, 6], seed: 16, bound: 2)
        let epilogue = ConvolutionEpilogue(scale: nil, shift: nil, activation: .clamp(low: 0, high: 6))
        let expected = try conv.forward(x, epilogue: epilogue)
        guard case .blocked(let output)? = try conv.forwardKeepingLayout(.blocked(try Self.blocked(x)), epilogue: epilogue) else {
            Issue.record("the convolution did not write the blocked layout")
            return
        }
        #expect(try output.plain().scalars == expected.scalars)
        #expect(Self.padding(output).allSatisfy { $0 == 0 })
    }

    /// A convolution that adds a residual in its own pass (oneDNN's sum post-op) gives the plain
    /// convolution's output plus the residual, then the activation: written over the residual's
    /// buffer or into a copy (the residual then unchanged), with padded channels (24, 40), on the
    /// Winograd kernel (32 channels, 3x3, stride 1) and the direct ones, and an activation
    /// (sigmoid) that does not keep zero, which only runs this way when the channels fill whole
    /// blocks.
    @Test(arguments: [
        (24, 1, ConvolutionActivation?.some(.relu), true), (24, 1, nil, false), (40, 2, .relu, false), (32, 1, .relu, false),
        (32, 2, .clamp(low: 0, high: 6), true), (32, 2, .sigmoid, false), (40, 2, .sigmoid, false),
    ])
    func convolutionsAddingAResidualAreThePlainOnes(
        channels: Int, stride: Int, activation: ConvolutionActivation?, overwriting: Bool
    ) throws {
        let conv = try Conv2d(inChannels: 16, outChannels: channels, kernelSize: 3, stride: IntPair(stride, stride), padding: 1)
        var generator = SeededGenerator(seed: 17)
        try conv.setLocalState(
            "weight", to: Tensor(shape: conv.weight.shape, scalars: generator.uniform(count: conv.weight.count, bound: 1)))
        try conv.setLocalState("bias", to: Tensor(shape: [channels], scalars: generator.uniform(count: channels, bound: 1)))
        conv.eval()
        let x = seededTensor([2, 16, 8, 6], seed: 18, bound: 2)
        let residual = seededTensor([2, channels, 8 / stride, 6 / stride], seed: 19, bound: 2)
        let sum = try residualAdd(try conv.forward(x, epilogue: nil), residual, thenReLU: false)
        let expected = activation.map { activation in sum.scalars.map(activation.apply) } ?? sum.scalars
        let residualValue = try Self.blocked(residual)
        let output = try conv.forwardAddingResidual(
            .blocked(try Self.blocked(x)), residual: residualValue, overwritingResidual: overwriting, activation: activation)
        guard activation?.keepsZero ?? true || channels % 16 == 0 else {
            #expect(output == nil, "a sigmoid over padded channels must be left to the caller")
            return
        }
        let written = try #require(output, "oneDNN declined the sum post-op")
        let worst = zip(try written.plain().scalars, expected).map { abs($0 - $1) }.max() ?? .infinity
        // The same operations, but oneDNN's direct kernels may add the bias after the residual,
        // and its sigmoid has an exponential of its own: a rounding or two of the largest value.
        let scale = max(1, expected.map(abs).max() ?? 0)
        #expect(worst <= 1e-6 * scale, "max abs err \(worst)")
        #expect(Self.padding(written).allSatisfy { $0 == 0 })
        #expect((written === residualValue) == overwriting)
        if !overwriting { #expect(try residualValue.plain().scalars == residual.scalars) }
    }

    /// Depthwise convolutions on zoo's kernel (MobileNetV2's 3x3, EfficientNet's 3x3 and 5x5, at
    /// strides 1 and 2, with ReLU6, SiLU or nothing after), against the plain path, whose oneDNN
    /// kernel adds the taps in another order: a few roundings of the largest value. Planes of 1,
    /// 2 and 9 pixels across exercise the border columns, and 24 channels the padding lanes, which
    /// stay zero. The channel means it keeps are ``blockedChannelMeans(_:)``'s to the bit.
    @Test(arguments: [
        (24, 3, 1, ConvolutionActivation?.some(.clamp(low: 0, high: 6)), [2, 9, 11]), (32, 3, 2, .clamp(low: 0, high: 6), [1, 9, 10]),
        (40, 5, 1, .silu, [2, 7, 9]), (24, 5, 2, .silu, [1, 14, 13]), (16, 3, 1, nil, [1, 1, 2]), (32, 3, 1, .relu, [2, 2, 1]),
        (48, 5, 2, .silu, [1, 3, 3]),
    ])
    func depthwiseConvolutionsAreThePlainOnes(
        channels: Int, kernel: Int, stride: Int, activation: ConvolutionActivation?, batchAndPlane: [Int]
    ) throws {
        let conv = try Conv2d(
            inChannels: channels, outChannels: channels, kernelSize: IntPair(kernel, kernel), stride: IntPair(stride, stride),
            padding: .explicit(IntPair(kernel / 2, kernel / 2)), groups: channels)
        var generator = SeededGenerator(seed: 31)
        try conv.setLocalState(
            "weight", to: Tensor(shape: conv.weight.shape, scalars: generator.uniform(count: conv.weight.count, bound: 1)))
        try conv.setLocalState("bias", to: Tensor(shape: [channels], scalars: generator.uniform(count: channels, bound: 1)))
        conv.eval()
        let x = seededTensor([batchAndPlane[0], channels, batchAndPlane[1], batchAndPlane[2]], seed: 32, bound: 3)
        let epilogue = activation.map { ConvolutionEpilogue(scale: nil, shift: nil, activation: $0) }
        let expected = try conv.forward(x, epilogue: epilogue)
        let kernelRun = try #require(
            BlockedDepthwise(
                weight: conv.weight.scalars, bias: conv.bias?.scalars, channels: channels, kernel: kernel, stride: stride,
                padding: kernel / 2, activation: activation), "zoo's depthwise kernel declined")
        let output = try kernelRun.run(try Self.blocked(x), keepingMeans: true)
        try Self.expectClose(output, expected)
        #expect(output.channelMeans?.scalars == blockedChannelMeans(output).scalars)
        // Through the layer, as a graph's first pass runs it (off AVX-512 the layer keeps oneDNN's).
        guard kernelRun.runsVectorised else {
            #expect(conv.depthwiseKernel(epilogue: epilogue) == nil)
            return
        }
        guard case .blocked(let layered)? = try conv.forwardKeepingLayout(.blocked(try Self.blocked(x)), epilogue: epilogue) else {
            Issue.record("the layer did not keep the blocked layout")
            return
        }
        #expect(try layered.plain().scalars == output.plain().scalars)
    }

    /// A 1x1 convolution and the depthwise one reading its output, on zoo's row-by-row kernel
    /// (MobileNetV2's expansions with ReLU6, EfficientNet's with SiLU), against the two plain
    /// convolutions one after the other, whose oneDNN kernels add in other orders: a few roundings
    /// of the largest value. Input channels of 24 and 40 leave padding lanes in the 1x1
    /// convolution's input, 20, 40 and 72 in its output; 144 channels (9 blocks) at batch 1 split
    /// a block's rows between the threads; planes of 1 to 14 pixels across reach the borders. The
    /// kernel expands small planes' rows all at once and large planes' (96 channels of 40 x 40,
    /// 144 of 30 x 30, past the whole ring's 256 KiB) a row at a time into a ring of K rows.
    @Test(arguments: [
        (
            16, 96, 3, 2, ConvolutionActivation?.some(.clamp(low: 0, high: 6)), ConvolutionActivation?.some(.clamp(low: 0, high: 6)),
            [1, 14, 14]
        ),
        (24, 144, 3, 1, .clamp(low: 0, high: 6), .clamp(low: 0, high: 6), [1, 9, 11]),
        (24, 144, 3, 2, .clamp(low: 0, high: 6), .clamp(low: 0, high: 6), [2, 8, 7]),
        (40, 40, 5, 1, .silu, .silu, [2, 7, 9]), (24, 72, 5, 2, .silu, .silu, [1, 13, 6]),
        (160, 960, 3, 1, .clamp(low: 0, high: 6), .clamp(low: 0, high: 6), [1, 7, 7]), (8, 20, 3, 1, nil, .relu, [3, 1, 2]),
        (32, 64, 3, 2, .relu, nil, [2, 2, 1]), (16, 96, 3, 1, .clamp(low: 0, high: 6), .clamp(low: 0, high: 6), [1, 40, 40]),
        (24, 144, 5, 2, .silu, .silu, [2, 30, 30]),
    ])
    func pointwiseDepthwisePairsAreThePlainOnes(
        inChannels: Int, middleChannels: Int, kernel: Int, stride: Int, pointwiseActivation: ConvolutionActivation?,
        depthwiseActivation: ConvolutionActivation?, batchAndPlane: [Int]
    ) throws {
        var generator = SeededGenerator(seed: 41)
        let pointwise = try Conv2d(inChannels: inChannels, outChannels: middleChannels, kernelSize: 1)
        let depthwise = try Conv2d(
            inChannels: middleChannels, outChannels: middleChannels, kernelSize: IntPair(kernel, kernel), stride: IntPair(stride, stride),
            padding: .explicit(IntPair(kernel / 2, kernel / 2)), groups: middleChannels)
        for conv in [pointwise, depthwise] {
            let bound = 1 / Float(conv.weight.count / conv.outChannels).squareRoot()
            try conv.setLocalState(
                "weight", to: Tensor(shape: conv.weight.shape, scalars: generator.uniform(count: conv.weight.count, bound: bound)))
            try conv.setLocalState(
                "bias", to: Tensor(shape: [conv.outChannels], scalars: generator.uniform(count: conv.outChannels, bound: 1)))
            conv.eval()
        }
        let x = seededTensor([batchAndPlane[0], inChannels, batchAndPlane[1], batchAndPlane[2]], seed: 42, bound: 3)
        func epilogue(_ activation: ConvolutionActivation?) -> ConvolutionEpilogue? {
            activation.map { ConvolutionEpilogue(scale: nil, shift: nil, activation: $0) }
        }
        let expected = try depthwise.forward(
            try pointwise.forward(x, epilogue: epilogue(pointwiseActivation)), epilogue: epilogue(depthwiseActivation))
        let depthwiseKernel = try #require(
            BlockedDepthwise(
                weight: depthwise.weight.scalars, bias: depthwise.bias?.scalars, channels: middleChannels, kernel: kernel, stride: stride,
                padding: kernel / 2, activation: depthwiseActivation))
        guard
            let pair = BlockedPointwiseDepthwise(
                pointwiseWeight: pointwise.weight.scalars, pointwiseBias: pointwise.bias?.scalars, inChannels: inChannels,
                activation: pointwiseActivation, depthwise: depthwiseKernel)
        else {
            // The kernel runs only where zoo's depthwise kernel runs vector code.
            #expect(!depthwiseKernel.runsVectorised)
            return
        }
        let output = try pair.run(try Self.blocked(x))
        try Self.expectClose(output, expected)
        // Keeping the means splits the threads' work by whole blocks: the same output to the bit,
        // and the means ``blockedChannelMeans(_:)`` takes, to the bit.
        let keeping = try pair.run(try Self.blocked(x), keepingMeans: true)
        #expect(try keeping.plain().scalars == output.plain().scalars)
        #expect(keeping.channelMeans?.scalars == blockedChannelMeans(keeping).scalars)
    }

    /// An eval-mode BatchNorm and ReLU then a 1x1 convolution on zoo's kernel (DenseNet's layers
    /// and transitions), against the plain BatchNorm, ReLU and convolution one after the other:
    /// a few roundings of the largest value. Input channels of 200 and 24 leave padding lanes in
    /// the input, 20 and 80 output channels a group of fewer than four blocks; planes of 1 to 11
    /// pixels across leave the pixels in steps of 6 and remainders.
    @Test(arguments: [
        (64, 128, ConvolutionActivation?.some(.relu), [1, 9, 11]), (200, 128, .relu, [2, 7, 7]), (24, 20, nil, [3, 1, 2]),
        (48, 80, .silu, [1, 5, 6]), (32, 32, .clamp(low: 0, high: 6), [1, 3, 1]),
    ])
    func normalizedPointwiseConvolutionsAreThePlainOnes(
        inChannels: Int, outChannels: Int, activation: ConvolutionActivation?, batchAndPlane: [Int]
    ) throws {
        var generator = SeededGenerator(seed: 51)
        let norm = try BatchNorm2d(numFeatures: inChannels)
        for (name, bound) in [("weight", Float(1)), ("bias", 1), ("running_mean", 1)] {
            try norm.setLocalState(name, to: Tensor(shape: [inChannels], scalars: generator.uniform(count: inChannels, bound: bound)))
        }
        try norm.setLocalState(
            "running_var", to: Tensor(shape: [inChannels], scalars: generator.uniform(count: inChannels, bound: 1).map { 1.5 + $0 }))
        norm.eval()
        let conv = try Conv2d(inChannels: inChannels, outChannels: outChannels, kernelSize: 1)
        let bound = 1 / Float(inChannels).squareRoot()
        try conv.setLocalState(
            "weight", to: Tensor(shape: conv.weight.shape, scalars: generator.uniform(count: conv.weight.count, bound: bound)))
        try conv.setLocalState("bias", to: Tensor(shape: [outChannels], scalars: generator.uniform(count: outChannels, bound: 1)))
        conv.eval()
        let x = seededTensor([batchAndPlane[0], inChannels, batchAndPlane[1], batchAndPlane[2]], seed: 52, bound: 3)
        let normalized = try ReLU().forward(try norm.forward(x))
        let expected = try conv.forward(
            normalized, epilogue: activation.map { ConvolutionEpilogue(scale: nil, shift: nil, activation: $0) })
        let map = try #require(norm.evalAffineMap)
        guard
            let kernel = BlockedNormalizedPointwise(
                scale: map.scale, shift: map.shift, weight: conv.weight.scalars, bias: conv.bias?.scalars, inChannels: inChannels,
                outChannels: outChannels, activation: activation)
        else {
            #expect(!BlockedNormalizedPointwise.runs, "the kernel declined on a CPU it runs on")
            return
        }
        let output = try kernel.run(try Self.blocked(x))
        try Self.expectClose(output, expected)
        // The input as the parts of a channel concatenation (32 and 16 channels in turn, the rest
        // last), read where they lie: the same sums in the same order, so the same floats.
        var (sizes, left) = ([Int](), inChannels)
        while left > (sizes.count % 2 == 0 ? 32 : 16) {
            sizes.append(sizes.count % 2 == 0 ? 32 : 16)
            left -= sizes.last!
        }
        sizes.append(left)
        var first = 0
        let parts = try sizes.map { size in
            defer { first += size }
            return try Self.blocked(Self.channels(first..<first + size, of: x))
        }
        #expect(kernel.reads(concatenationOf: parts.map(\.shape)))
        let joined = try kernel.run(concatenating: parts)
        #expect(try joined.plain().scalars == output.plain().scalars, "parts \(sizes)")
        // A part short of a whole block inside the concatenation would put its padding there.
        if inChannels > 16 {
            let shapes = [
                [batchAndPlane[0], 8, batchAndPlane[1], batchAndPlane[2]],
                [batchAndPlane[0], inChannels - 8, batchAndPlane[1], batchAndPlane[2]],
            ]
            #expect(!kernel.reads(concatenationOf: shapes))
            #expect(throws: OneDNNFallback.self) { try kernel.run(concatenating: try shapes.map { try BlockedActivation(shape: $0) }) }
        }
    }

    /// A squeeze-and-excitation scale, then a 1x1 convolution and a residual (EfficientNet's
    /// projections) on zoo's kernel, against the plain scale, convolution and add one after the
    /// other: a few roundings of the largest value. 24 and 200 input channels leave padding
    /// lanes; 20 output channels a group of two blocks; planes of 1 to 14 x 14 pixels take one
    /// or several chunks, by chunk or by group (more output channels than pixels).
    @Test(arguments: [
        (24, 20, [1, 7, 7], true), (200, 80, [3, 14, 14], true), (96, 24, [2, 9, 5], false), (672, 192, [1, 1, 1], true),
        (40, 48, [2, 8, 8], false),
    ])
    func scaledPointwiseConvolutionsAreThePlainOnes(inChannels: Int, outChannels: Int, batchAndPlane: [Int], withResidual: Bool) throws {
        let (batch, height, width) = (batchAndPlane[0], batchAndPlane[1], batchAndPlane[2])
        let conv = try Conv2d(inChannels: inChannels, outChannels: outChannels, kernelSize: 1)
        var generator = SeededGenerator(seed: 61)
        let bound = 1 / Float(inChannels).squareRoot()
        try conv.setLocalState(
            "weight", to: Tensor(shape: conv.weight.shape, scalars: generator.uniform(count: conv.weight.count, bound: bound)))
        try conv.setLocalState("bias", to: Tensor(shape: [outChannels], scalars: generator.uniform(count: outChannels, bound: 1)))
        conv.eval()
        let x = seededTensor([batch, inChannels, height, width], seed: 62, bound: 3)
        let scales = Tensor(
            shape: [batch, inChannels, 1, 1], scalars: generator.uniform(count: batch * inChannels, bound: 1).map { 0.5 + $0 })
        let residual = seededTensor([batch, outChannels, height, width], seed: 63, bound: 2)
        let plane = height * width
        let scaled = Tensor(shape: x.shape, scalars: x.scalars.enumerated().map { $1 * scales.scalars[$0 / plane] })
        var expected = try conv.forward(scaled, epilogue: nil)
        if withResidual { expected = Tensor(shape: expected.shape, scalars: zip(expected.scalars, residual.scalars).map { $0 + $1 }) }
        guard
            let kernel = BlockedNormalizedPointwise(
                scalingWith: conv.weight.scalars, bias: conv.bias?.scalars, inChannels: inChannels, outChannels: outChannels,
                activation: nil)
        else {
            #expect(!BlockedNormalizedPointwise.runs, "the kernel declined on a CPU it runs on")
            return
        }
        let output = try kernel.run(scaling: try Self.blocked(x), by: scales, residual: withResidual ? try Self.blocked(residual) : nil)
        try Self.expectClose(output, expected)
        // Scales of another shape, and the normalizing entry points, are refused.
        #expect(throws: OneDNNFallback.self) { try kernel.run(scaling: try Self.blocked(x), by: residual, residual: nil) }
        #expect(throws: OneDNNFallback.self) { try kernel.run(try Self.blocked(x)) }
    }

    /// A blocked kernel's `output` against the plain layers' `expected`, which add in other
    /// orders: the same shape, within a few roundings of the largest value (4e-6 of it), and the
    /// padding lanes zero.
    static func expectClose(_ output: BlockedActivation, _ expected: Tensor, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(output.shape == expected.shape, sourceLocation: sourceLocation)
        let worst = zip(try output.plain().scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        let scale = max(1, expected.scalars.map(abs).max() ?? 0)
        #expect(worst <= 4e-6 * scale, "max abs err \(worst)", sourceLocation: sourceLocation)
        #expect(padding(output).allSatisfy { $0 == 0 }, sourceLocation: sourceLocation)
    }

    /// The channels `range` of an NCHW tensor.
    static func channels(_ range: Range<Int>, of x: Tensor) -> Tensor {
        let (batch, channels, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var scalars: [Float] = []
        for sample in 0..<batch {
            scalars += x.scalars[(sample * channels + range.lowerBound) * plane..<(sample * channels + range.upperBound) * plane]
        }
        return Tensor(shape: [batch, range.count, x.shape[2], x.shape[3]], scalars: scalars)
    }

    /// A grouped convolution that is not depthwise, a dilated depthwise one and a 7x7 one stay on
    /// oneDNN; a 3x3 depthwise one takes zoo's kernel where that kernel runs vector code.
    @Test func onlyDepthwiseConvolutionsTakeZoosKernel() throws {
        #expect(try Conv2d(inChannels: 32, outChannels: 32, kernelSize: 3, padding: 1, groups: 2).depthwiseKernel(epilogue: nil) == nil)
        #expect(
            try Conv2d(inChannels: 32, outChannels: 32, kernelSize: 3, padding: 2, dilation: 2, groups: 32).depthwiseKernel(epilogue: nil)
                == nil)
        #expect(try Conv2d(inChannels: 32, outChannels: 32, kernelSize: 7, padding: 3, groups: 32).depthwiseKernel(epilogue: nil) == nil)
        let depthwise = try Conv2d(inChannels: 32, outChannels: 32, kernelSize: 3, padding: 1, groups: 32)
        let kernel = try #require(
            BlockedDepthwise(
                weight: depthwise.weight.scalars, bias: depthwise.bias?.scalars, channels: 32, kernel: 3, stride: 1, padding: 1,
                activation: nil))
        #expect((depthwise.depthwiseKernel(epilogue: nil) != nil) == kernel.runsVectorised)
    }

    /// One-pixel activations (squeeze-and-excitation's pooled values) are copied between the
    /// layouts rather than reordered by oneDNN: each value lands where nChw16c puts it.
    @Test(arguments: [[3, 40, 1, 1], [2, 32, 1, 1]])
    func onePixelActivationsFollowTheBlockedLayout(shape: [Int]) throws {
        let x = seededTensor(shape, seed: 20, bound: 2)
        let value = try Self.blocked(x)
        let blocks = value.paddedChannels / 16
        for sample in 0..<shape[0] {
            for channel in 0..<shape[1] {
                let blockedIndex = (sample * blocks + channel / 16) * 16 + channel % 16
                #expect(value.floats[blockedIndex] == x.scalars[sample * shape[1] + channel])
            }
        }
        #expect(Self.padding(value).allSatisfy { $0 == 0 })
        #expect(try value.plain().scalars == x.scalars)
    }

    /// A fused Sequential of convolutions, ReLUs and max pools (simplecnn's body), which passes
    /// blocked activations from step to step, gives the layers' output run one by one on plain
    /// tensors.
    @Test func aFusedSequentialGivesTheUnfusedOutput() throws {
        try expectFusionKeepsTheOutput(
            Sequential([
                try Conv2d(inChannels: 3, outChannels: 32, kernelSize: 3, padding: 1), ReLU(), try MaxPool2d(kernelSize: 2, stride: 2),
                try Conv2d(inChannels: 32, outChannels: 40, kernelSize: 3, padding: 1), ReLU(), try MaxPool2d(kernelSize: 2, stride: 2),
                try Conv2d(inChannels: 40, outChannels: 24, kernelSize: 1), Flatten(startDim: 1, endDim: -1),
            ]))
    }

    /// ResNet's body (stem, BasicBlocks with and without a downsampling shortcut, global average
    /// pool), whose BatchNorms zoo applies to the blocked convolution outputs, likewise.
    @Test func aFusedResNetBodyGivesTheUnfusedOutput() throws {
        try expectFusionKeepsTheOutput(
            Sequential([
                try Conv2d(inChannels: 3, outChannels: 32, kernelSize: 3, stride: 2, padding: 1, bias: false),
                try BatchNorm2d(numFeatures: 32), ReLU(), try MaxPool2d(kernelSize: 3, stride: 2, padding: 1),
                Sequential([try BasicBlock(inplanes: 32, planes: 40, stride: 2), try BasicBlock(inplanes: 40, planes: 40)]),
                AdaptiveAvgPool2d(outputSize: AdaptiveOutputSize(height: 1, width: 1)), Flatten(startDim: 1, endDim: -1),
            ]))
    }

    private func expectFusionKeepsTheOutput(_ model: Sequential) throws {
        var generator = SeededGenerator(seed: 17)
        try model.resetAllParameters(using: &generator)
        model.eval()
        let x = seededTensor([2, 3, 32, 24], seed: 18, bound: 2)
        let plain = try model(x)
        InferenceFusion.apply(to: model)
        let fused = try model(x)
        #expect(fused.shape == plain.shape)
        let scale = max(1, plain.scalars.map { abs($0) }.max() ?? 0)
        let worst = zip(fused.scalars, plain.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5 * scale, "max abs err \(worst)")
    }
}
