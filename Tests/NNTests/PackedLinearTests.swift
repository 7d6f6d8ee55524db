import Tensor
import TestSupport
import Testing

@testable import NN

/// Linear in eval mode runs oneDNN's inner product on weights packed once per number of rows
/// (OneDNNInnerProduct), zoo's streamed product on its own packing for one row, and zoo's narrow
/// product for up to 16 outputs; each must
/// give the GEMM's output (train mode's path), and follow new weights rather than the packed
/// copy of the old ones.
@Suite("PackedLinear")
struct PackedLinearTests {
    /// The largest difference, against the GEMM's output, that two orders of the same sums of
    /// `inFeatures` products of values in [-1, 1] may reach: a few roundings of the largest sum.
    static func expectClose(_ got: Tensor, _ expected: Tensor, inFeatures: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.shape == expected.shape, sourceLocation: sourceLocation)
        let worst = zip(got.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-6 * Float(inFeatures), "max abs err \(worst)", sourceLocation: sourceLocation)
    }

    @Test(arguments: [(2, 5, 3, true), (8, 1280, 1000, true), (64, 4096, 128, true), (3, 17, 9, false), (24, 33, 65, true)])
    func evalModeGivesTheGEMMsOutput(rows: Int, inFeatures: Int, outFeatures: Int, bias: Bool) throws {
        let layer = try Linear(inFeatures: inFeatures, outFeatures: outFeatures, bias: bias)
        // A new layer's tensors are zeros until loaded: these make every weight and bias count.
        try layer.setLocalState("weight", to: seededTensor([outFeatures, inFeatures], seed: 8))
        if bias { try layer.setLocalState("bias", to: seededTensor([outFeatures], seed: 9)) }
        let x = seededTensor([rows, inFeatures], seed: 1)
        layer.train()
        let expected = try layer(x)
        layer.eval()
        #expect(layer.packedProduct(rows: rows) != nil, "oneDNN has no inner product for this shape")
        Self.expectClose(try layer(x), expected, inFeatures: inFeatures)
        // One row: zoo's streamed product in eval mode (StreamedProduct.swift), the GEMM in train mode.
        let first = try layer(Tensor(shape: [1, inFeatures], scalars: Array(x.scalars[0..<inFeatures])))
        Self.expectClose(first, Tensor(shape: [1, outFeatures], scalars: Array(expected.scalars[0..<outFeatures])), inFeatures: inFeatures)
    }

    /// Few outputs (up to 16) run on zoo's narrow product (NarrowProduct.swift) on any number of
    /// rows: rows in tiles of three and the rest, outputs in one group of up to ten or in two,
    /// inputs short of a 16-float step, a whole chunk, and past two chunks with a ragged end.
    @Test(arguments: [1, 2, 3, 4, 5, 7], [1, 10, 11, 16])
    func fewOutputsGiveTheGEMMsOutputOnTheNarrowProduct(rows: Int, outFeatures: Int) throws {
        for inFeatures in [17, 4096, 8200] {
            let layer = try Linear(inFeatures: inFeatures, outFeatures: outFeatures)
            try layer.setLocalState("weight", to: seededTensor([outFeatures, inFeatures], seed: 21))
            try layer.setLocalState("bias", to: seededTensor([outFeatures], seed: 22))
            let x = seededTensor([rows, inFeatures], seed: 23)
            layer.train()
            let expected = try layer(x)
            layer.eval()
            #expect(layer.runsNarrowProduct == NarrowProductWeights.runs, "\(outFeatures) outputs must take the narrow product")
            Self.expectClose(try layer(x), expected, inFeatures: inFeatures)
        }
    }

    /// A Flatten then Linear after a convolution reads the blocked activation where the
    /// convolution wrote it: as it is with up to 16 outputs (zoo's narrow product), one sample
    /// with more on zoo's streamed product with the weights put into the blocked order, and
    /// several under 64 (oneDNN's GEMM kernel) or as rows with the weights put into the blocked
    /// order with 64 or more (brgemm); channel counts that are not a multiple of 16 leave padding
    /// the weights must skip.
    @Test(arguments: [
        ([1, 16, 4, 4], 10), ([3, 6, 5, 5], 10), ([3, 6, 5, 5], 70), ([2, 40, 3, 7], 64), ([64, 32, 32, 32], 10),
        ([5, 20, 3, 3], 16), ([4, 20, 3, 3], 17), ([1, 3, 40, 40], 2),
        ([8, 64, 8, 8], 128), ([1, 64, 8, 8], 128), ([1, 20, 3, 3], 17), ([1, 40, 3, 7], 100), ([1, 6, 5, 5], 70),
    ])
    func aFlattenedBlockedActivationGivesThePlainRowsOutput(shape: [Int], outFeatures: Int) throws {
        let inFeatures = shape.dropFirst().reduce(1, *)
        let layer = try Linear(inFeatures: inFeatures, outFeatures: outFeatures)
        try layer.setLocalState("weight", to: seededTensor([outFeatures, inFeatures], seed: 8))
        try layer.setLocalState("bias", to: seededTensor([outFeatures], seed: 9))
        let x = seededTensor(shape, seed: 5)
        let expected = try layer(try x.reshaped([shape[0], inFeatures]))
        layer.eval()
        let got = layer.forward(flattening: try BlockedActivation.blocked(x))
        Self.expectClose(try #require(got, "oneDNN has no kernel for \(shape)"), expected, inFeatures: inFeatures)
        layer.train()
        #expect(layer.forward(flattening: try BlockedActivation.blocked(x)) == nil, "train mode must take the GEMM")
    }

    /// In a fused Sequential (net's conv -> ReLU -> Flatten -> Linear), the step takes the
    /// convolution's blocked output; the output is the unfused one's, and new weights are followed:
    /// few outputs (the narrow product) and many, for one sample (the streamed product) and four.
    @Test(arguments: [(4, 10), (1, 10), (1, 70), (4, 70)])
    func aFusedSequentialFlattensTheBlockedActivationIntoItsLinear(batch: Int, outFeatures: Int) throws {
        func model() throws -> Sequential {
            Sequential(named: [
                ("conv", try Conv2d(inChannels: 3, outChannels: 32, kernelSize: 3, padding: 1)), ("relu", ReLU()),
                ("flatten", Flatten()), ("fc", try Linear(inFeatures: 32 * 8 * 8, outFeatures: outFeatures)),
            ])
        }
        let (fused, plain) = (try model(), try model())
        // New layers hold zeros until loaded: seeded weights make every one count.
        var seed: UInt64 = 10
        let state = StateDict(
            fused.stateDict().map { key, value in
                seed += 1
                return (key, seededTensor(value.shape, seed: seed))
            })
        _ = try fused.load(state)
        _ = try plain.load(state)
        let x = seededTensor([batch, 3, 8, 8], seed: 6)
        InferenceFusion.apply(to: fused)
        plain.eval()
        let steps = try #require(fused.fusedSteps)
        #expect(steps.contains { if case .flattenThenLinear = $0 { true } else { false } }, "no Flatten-Linear step was planned")
        Self.expectClose(try fused(x), try plain(x), inFeatures: 32 * 8 * 8)
        let fc = try #require(fused.modules.compactMap { $0 as? Linear }.first)
        try fc.setLocalState("weight", to: seededTensor([outFeatures, 32 * 8 * 8], seed: 7))
        _ = try plain.load(fused.stateDict())
        Self.expectClose(try fused(x), try plain(x), inFeatures: 32 * 8 * 8)
    }

    @Test(arguments: [1, 4])
    func newWeightsReplaceThePackedOnes(rows: Int) throws {
        let layer = try Linear(inFeatures: 24, outFeatures: 10)
        layer.eval()
        let x = seededTensor([rows, 24], seed: 2)
        _ = try layer(x)
        try layer.setLocalState("weight", to: seededTensor([10, 24], seed: 3))
        let packed = try layer(x)
        layer.train()
        Self.expectClose(packed, try layer(x), inFeatures: 24)
    }

    @Test func inputsOfHigherRankUseTheirLeadingAxesAsRows() throws {
        let layer = try Linear(inFeatures: 7, outFeatures: 5)
        let x = seededTensor([2, 3, 7], seed: 4)
        let expected = try layer(x)
        layer.eval()
        let got = try layer(x)
        #expect(got.shape == [2, 3, 5])
        Self.expectClose(got, expected, inFeatures: 7)
    }
}
