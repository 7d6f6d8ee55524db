internal import CKernels
import Synchronization
import Tensor

/// The weights of a matrix product with few rows, packed once into the panels of zoo's product
/// kernel (CKernels' `zoo_streamed_product_f32`): a squeeze-and-excitation block's two 1x1
/// convolutions on one pixel, where oneDNN took 6-18 µs a call in its kernel alone for 19,000 to
/// 55,000 multiply-adds, plus reorders around it.
final class StreamedProductWeights: Sendable {
    let inputs: Int
    let outputs: Int
    private let panels: Int
    private let packed: [Float]

    /// `weight` is `(outputs, inputs)`, or `(outputs, inputs, 1, 1)` for a 1x1 convolution.
    init(weight: Tensor) {
        (outputs, inputs) = (weight.shape[0], weight.count / Swift.max(1, weight.shape[0]))
        panels = zoo_streamed_product_panels(outputs)
        let (inputs, outputs) = (inputs, outputs)
        let count = panels * inputs * 64
        packed = weight.scalars.withUnsafeBufferPointer { source in
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                zoo_pack_streamed_product_f32(source.baseAddress, buffer.baseAddress, inputs, outputs)
                initialized = count
            }
        }
    }

    /// `output[n][o] = bias[o] + Σ_i input[n][i] * weight[o][i]` for `rows` rows of `inputs`
    /// floats, as `rows x outputs` floats; the panels shared out to the compute threads when the
    /// product is large enough to pay for waking them.
    func apply(to input: [Float], rows: Int, bias: [Float]?) -> [Float] {
        input.withUnsafeBufferPointer { input in
            guard let source = input.baseAddress else { return [Float](repeating: 0, count: rows * outputs) }
            return apply(to: source, rows: rows, bias: bias)
        }
    }

    /// ``apply(to:rows:bias:)`` on `rows * inputs` floats where they are.
    func apply(to source: UnsafePointer<Float>, rows: Int, bias: [Float]?) -> [Float] {
        [Float](unsafeUninitializedCapacity: rows * outputs) { buffer, initialized in
            guard let target = buffer.baseAddress else { return }
            withOptionalFloats(bias) { run(source, rows: rows, bias: $0, into: target) }
            initialized = rows * outputs
        }
    }

    private func run(_ input: UnsafePointer<Float>, rows: Int, bias: UnsafePointer<Float>?, into output: UnsafeMutablePointer<Float>) {
        let (source, target, bias) = (SharedPointer(input), SharedPointer(output), bias.map(SharedPointer.init))
        let (inputs, outputs) = (inputs, outputs)
        packed.withUnsafeBufferPointer { packed in
            guard let first = packed.baseAddress else { return }
            let weights = SharedPointer(first)
            parallelFor(panels, costPerIndex: rows * inputs * 64) { panel in
                zoo_streamed_product_f32(weights.base, bias?.base, source.base, target.base, rows, inputs, outputs, panel, panel + 1)
            }
        }
    }
}

/// A layer's packed weights, made on first use and kept until its weights change, or made for
/// each call when the layer keeps no prepared copy of its weights (``ConvolutionKernels``).
final class StreamedProductCache: Sendable {
    private let kept = Mutex<StreamedProductWeights?>(nil)

    func weights(for weight: Tensor, keeping: Bool) -> StreamedProductWeights {
        guard keeping else { return StreamedProductWeights(weight: weight) }
        if let known = kept.withLock({ $0 }) { return known }
        let made = StreamedProductWeights(weight: weight)
        kept.withLock { $0 = made }
        return made
    }

    func removeAll() { kept.withLock { $0 = nil } }
}
