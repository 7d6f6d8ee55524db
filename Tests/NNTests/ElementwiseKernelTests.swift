import Foundation
import HDF5
import Tensor
import Testing

@testable import NN

/// zoo's own vector kernels (Sources/CKernels) against PyTorch's results for the same floats
/// (Tools/make_kernel_fixtures.py), over lengths that end inside and on a vector's lanes and
/// past one parallel chunk, out of place and in place.
struct ElementwiseKernelTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kernels.h5").path

    private static func pair(_ name: String) throws -> (input: [Float], output: [Float]) {
        let group = try HDF5File.openReadOnly(fixture).rootGroup().openGroup(name)
        return (try group.openDataset("input").readTensor().scalars, try group.openDataset("output").readTensor().scalars)
    }

    /// Within 4 units in the last place of PyTorch's value (its exp is Sleef's, within 1; zoo's
    /// a polynomial within 2), or 1e-36 absolute where the value underflows; NaN where PyTorch
    /// has NaN, and the same infinities.
    private func expectPyTorchs(
        _ actual: [Float], _ expected: [Float], _ inputs: [Float], _ function: String = "silu",
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var failures = 0
        for index in 0..<actual.count where failures < 5 {
            let (a, e) = (actual[index], expected[index])
            let agrees = e.isNaN ? a.isNaN : (e.isInfinite ? a == e : abs(a - e) <= max(4 * e.ulp, 1e-36))
            if !agrees {
                failures += 1
                Issue.record("\(function)(\(inputs[index])) = \(a), PyTorch gives \(e)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: [1, 7, 15, 16, 17, 33, 1000, 40_000])
    func siluIsPyTorchs(count: Int) throws {
        let (inputs, outputs) = try Self.pair("silu")
        #expect(inputs.count == 40_000)
        let x = Array(inputs.prefix(count))
        var y = [Float](repeating: .nan, count: count)
        x.withUnsafeBufferPointer { source in
            y.withUnsafeMutableBufferPointer { target in
                VectorActivation.silu.apply(source.baseAddress!, into: target.baseAddress!, count: count)
            }
        }
        expectPyTorchs(y, Array(outputs.prefix(count)), x)
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { values in
            VectorActivation.silu.apply(values.baseAddress!, into: values.baseAddress!, count: count)
        }
        expectPyTorchs(inPlace, Array(outputs.prefix(count)), x)
    }

    @Test(arguments: [1, 15, 17, 40_000])
    func sigmoidIsPyTorchs(count: Int) throws {
        let (inputs, outputs) = try Self.pair("sigmoid")
        let x = Tensor(shape: [count], scalars: Array(inputs.prefix(count)))
        expectPyTorchs(sigmoid(x).scalars, Array(outputs.prefix(count)), x.scalars, "sigmoid")
    }

    /// A convolution's SiLU runs after oneDNN's kernel, over the blocked output's padding
    /// channels too: the padding must stay zero, and every channel must be the plain SiLU.
    @Test(arguments: [[1, 24, 5, 7], [2, 40, 3, 3]])
    func blockedEpilogueSiLUIsThePlainOneAndKeepsThePadding(shape: [Int]) throws {
        let count = shape.reduce(1, *)
        let input = Tensor(shape: shape, scalars: (0..<count).map { Float(($0 * 7919) % 201) / 10 - 10 })
        let blocked = try BlockedActivation.blocked(input)
        let epilogue = ConvolutionEpilogue(scale: nil, shift: nil, activation: .silu)
        applyBlockedEpilogue(epilogue, from: blocked, to: blocked)
        expectPyTorchs(try blocked.plain().scalars, silu(input).scalars, input.scalars)
        let padding = blocked.paddedChannels - shape[1]
        let plane = shape[2] * shape[3]
        for sample in 0..<shape[0] {
            let lastBlock = blocked.floats + (sample * blocked.paddedChannels + blocked.paddedChannels - 16) * plane
            for pixel in 0..<plane {
                for lane in (16 - padding)..<16 { #expect(lastBlock[pixel * 16 + lane] == 0) }
            }
        }
    }
}
