import Tensor
import TestSupport
import Testing

@testable import NN

/// Linear in eval mode runs oneDNN's inner product on weights packed once per number of rows
/// (OneDNNInnerProduct); it must give the GEMM's output (train mode's path, and one row's), and
/// follow new weights rather than the packed copy of the old ones.
@Suite("PackedLinear")
struct PackedLinearTests {
    /// The largest difference, against the GEMM's output, that two orders of the same sums of
    /// `inFeatures` products of values in [-1, 1] may reach: a few roundings of the largest sum.
    private static func expectClose(_ got: Tensor, _ expected: Tensor, inFeatures: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.shape == expected.shape, sourceLocation: sourceLocation)
        let worst = zip(got.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-6 * Float(inFeatures), "max abs err \(worst)", sourceLocation: sourceLocation)
    }

    @Test(arguments: [(2, 5, 3, true), (8, 1280, 1000, true), (64, 4096, 128, true), (3, 17, 9, false), (24, 33, 65, true)])
    func evalModeGivesTheGEMMsOutput(rows: Int, inFeatures: Int, outFeatures: Int, bias: Bool) throws {
        let layer = try Linear(inFeatures: inFeatures, outFeatures: outFeatures, bias: bias)
        let x = seededTensor([rows, inFeatures], seed: 1)
        layer.train()
        let expected = try layer(x)
        layer.eval()
        #expect(layer.packedProduct(rows: rows) != nil, "oneDNN has no inner product for this shape")
        Self.expectClose(try layer(x), expected, inFeatures: inFeatures)
        // One row at a time is the GEMM in either mode.
        let first = try layer(Tensor(shape: [1, inFeatures], scalars: Array(x.scalars[0..<inFeatures])))
        Self.expectClose(first, Tensor(shape: [1, outFeatures], scalars: Array(expected.scalars[0..<outFeatures])), inFeatures: inFeatures)
    }

    @Test func newWeightsReplaceThePackedOnes() throws {
        let layer = try Linear(inFeatures: 24, outFeatures: 10)
        layer.eval()
        let x = seededTensor([4, 24], seed: 2)
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
