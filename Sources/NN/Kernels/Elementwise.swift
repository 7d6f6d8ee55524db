internal import CKernels
import Tensor

/// Applies `transform` to every element; shape unchanged. Inlined so that each activation's
/// closure is compiled into the loop rather than called per element.
@inline(__always)
func mapElements(_ input: Tensor, _ transform: (Float) -> Float) -> Tensor {
    let x = input.scalars
    let y = [Float](unsafeUninitializedCapacity: x.count) { buffer, initialized in
        x.withUnsafeBufferPointer { source in
            for index in 0..<source.count { buffer[index] = transform(source[index]) }
        }
        initialized = x.count
    }
    return Tensor(shape: input.shape, scalars: y)
}

/// ReLU (`x` where positive, NaN kept, else 0) in chunks on the compute threads: a training
/// step's activations are otherwise one thread's pass while the other waits. Written out rather
/// than through ``mapElements(_:_:)``, whose closure a parallel loop's body would call per element.
func reluInParallel(_ input: Tensor) -> Tensor {
    let (x, count) = (input.scalars, input.count)
    let y = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        x.withUnsafeBufferPointer { source in
            guard let first = source.baseAddress, let written = buffer.baseAddress else { return }
            let (source, target) = (SharedPointer(first), SharedPointer(written))
            forChunks(of: count) { range in
                // Sixteen at a time as vector selects: a branch on the sign mispredicts on real data.
                var index = range.lowerBound
                while index + 16 <= range.upperBound {
                    let value = UnsafeRawPointer(source.base + index).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(target.base + index).storeBytes(
                        of: value.replacing(with: 0, where: value .<= 0), as: SIMD16<Float>.self)
                    index += 16
                }
                for index in index..<range.upperBound {
                    let value = source.base[index]
                    target.base[index] = value > 0 || value.isNaN ? value : 0
                }
            }
        }
        initialized = count
    }
    return Tensor(shape: input.shape, scalars: y)
}

/// `body` over consecutive ranges that cover `0..<count`, one range per index of a parallel
/// loop; large enough that waking a thread pays, small enough to share out. `costPerElement`
/// is in ``parallelFor(_:costPerIndex:_:)``'s elementary operations: an exp costs about 16, so
/// its loops share out from 8,192 elements where a one-operation loop stays on one thread up
/// to 100,000.
@inline(__always)
func forChunks(of count: Int, costPerElement: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
    let chunk = costPerElement > 1 ? 1 << 12 : 1 << 14
    parallelFor((count + chunk - 1) / chunk, costPerIndex: chunk * costPerElement) { index in
        body((index * chunk)..<Swift.min(count, (index + 1) * chunk))
    }
}

/// An activation zoo's vector kernels run (CKernels) as a pass of its own. SiLU takes 0.23-0.33 ns
/// an element on one AMD Zen 4 core, where oneDNN 2.6's swish takes 0.52-0.58 as a post-op and
/// 0.59-0.63 as a primitive of its own (`Tools/bench/silu.c`).
enum VectorActivation {
    case silu
    case sigmoid

    /// The activation of `count` floats from `source` into `destination` (which may be
    /// `source`), in chunks on the compute threads.
    func apply(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, count: Int) {
        inChunks(self == .silu ? zoo_silu_f32 : zoo_sigmoid_f32, source, into: destination, count: count)
    }
}

/// SiLU of every element of `input`.
func silu(_ input: Tensor) -> Tensor { mapInChunks(input, zoo_silu_f32) }

/// Sigmoid, `1 / (1 + exp(-x))`, of every element of `input`, on the same vector kernel (its
/// scalar loop took encdec's output 4 ns an element).
func sigmoid(_ input: Tensor) -> Tensor { mapInChunks(input, zoo_sigmoid_f32) }

/// `kernel(source, destination, count)` over `input`'s elements in chunks on the compute threads.
private func mapInChunks(
    _ input: Tensor, _ kernel: @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void
) -> Tensor {
    let x = input.scalars
    let y = [Float](unsafeUninitializedCapacity: x.count) { buffer, initialized in
        x.withUnsafeBufferPointer { source in
            guard let first = source.baseAddress, let target = buffer.baseAddress else { return }
            inChunks(kernel, first, into: target, count: source.count)
        }
        initialized = x.count
    }
    return Tensor(shape: input.shape, scalars: y)
}

/// `kernel(source, destination, count)` over consecutive chunks on the compute threads.
private func inChunks(
    _ kernel: @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void, _ source: UnsafePointer<Float>,
    into destination: UnsafeMutablePointer<Float>, count: Int
) {
    let (from, to) = (SharedPointer(source), SharedPointer(destination))
    forChunks(of: count, costPerElement: 16) { range in kernel(from.base + range.lowerBound, to.base + range.lowerBound, range.count) }
}
