import Foundation
import Tensor

/// An optimizer over a model's parameters (in `named_parameters()` order, which is how PyTorch's
/// `optimizer.state_dict()` indexes them), stepping as PyTorch's single-tensor (`foreach=False`)
/// code does, float32 operation by float32 operation, with its Python-float scalars computed in
/// double precision as Python computes them.
public protocol Optimizer: AnyObject {
    var parameters: [NamedParameter] { get }
    /// `param_groups[0]["lr"]`, which a scheduler sets.
    var learningRate: Double { get set }
    /// One update from `gradients`; a parameter without a gradient is left alone, as PyTorch
    /// skips `p.grad is None`.
    func step(_ gradients: ParameterGradients)
}

/// `torch.optim.SGD`: with `g` the gradient (`+ weight_decay * p`), `buf = g` on the first step,
/// then `buf = momentum * buf + (1 - dampening) * g`; the step is `g + momentum * buf` with
/// `nesterov`, else `buf` (plain `g` without momentum); `p -= lr * step`.
public final class SGD: Optimizer {
    public let parameters: [NamedParameter]
    public var learningRate: Double
    public var momentum: Double
    public var dampening: Double
    public var weightDecay: Double
    public var nesterov: Bool
    public var maximize: Bool
    /// `state[i]["momentum_buffer"]`, nil until parameter i's first step with momentum.
    public internal(set) var momentumBuffers: [[Float]?]

    public init(
        parameters: [NamedParameter], learningRate: Double = 0.001, momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0,
        nesterov: Bool = false, maximize: Bool = false
    ) throws {
        guard learningRate >= 0 else {
            throw NNError.invalidArgument(layer: "SGD", argument: "lr", reason: "invalid learning rate: \(learningRate)")
        }
        guard momentum >= 0 else {
            throw NNError.invalidArgument(layer: "SGD", argument: "momentum", reason: "invalid momentum value: \(momentum)")
        }
        guard weightDecay >= 0 else {
            throw NNError.invalidArgument(layer: "SGD", argument: "weight_decay", reason: "invalid weight_decay value: \(weightDecay)")
        }
        if nesterov && (momentum <= 0 || dampening != 0) {
            throw NNError.invalidArgument(
                layer: "SGD", argument: "nesterov", reason: "Nesterov momentum requires a momentum and zero dampening")
        }
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.maximize = maximize
        momentumBuffers = Array(repeating: nil, count: parameters.count)
    }

    /// Sets parameter `index`'s momentum buffer, as `load_state_dict` does (nil: none yet).
    public func restoreMomentumBuffer(_ buffer: [Float]?, at index: Int) { momentumBuffers[index] = buffer }

    public func step(_ gradients: ParameterGradients) {
        let (decay, momentum, keep, rate) = (Float(weightDecay), Float(self.momentum), Float(1 - dampening), Float(-learningRate))
        for (index, parameter) in parameters.enumerated() {
            guard var g = gradients[parameter]?.scalars else { continue }
            let p = parameter.value.scalars
            if maximize { g = g.map { -$0 } }
            if weightDecay != 0 { for i in g.indices { g[i] = g[i] + decay * p[i] } }
            if self.momentum != 0 {
                var buffer: [Float]
                if var previous = momentumBuffers[index] {
                    // Released from the list while it changes, so that it is updated in place.
                    momentumBuffers[index] = nil
                    scaleAndAdd(&previous, scale: momentum, g, weight: keep)
                    buffer = previous
                } else {
                    buffer = g
                }
                momentumBuffers[index] = buffer
                g = nesterov ? adding(g, buffer, times: momentum) : buffer
            }
            parameter.update(to: adding(p, g, times: rate))
        }
    }
}

/// `torch.optim.Adam` and, with `decoupledWeightDecay`, `torch.optim.AdamW`. Per parameter:
/// `step += 1`; weight decay as `g += wd * p` (Adam) or `p *= 1 - lr * wd` (AdamW);
/// `m = lerp(m, g, 1 - β1)`; `v = v * β2 + (1 - β2) * g * g`; with `bc1 = 1 - β1^step`,
/// `bc2 = 1 - β2^step` in double precision, `denom = sqrt(v or max(v) with amsgrad) / sqrt(bc2) + eps`
/// and `p += (-lr / bc1) * m / denom`.
public final class Adam: Optimizer {
    public let parameters: [NamedParameter]
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double
    public var amsgrad: Bool
    public var maximize: Bool
    /// AdamW's decoupled weight decay.
    public let decoupledWeightDecay: Bool
    /// Per parameter, its state once it has stepped: `step` (a float32 count, as PyTorch keeps
    /// it), `exp_avg`, `exp_avg_sq`, and `max_exp_avg_sq` with amsgrad.
    public internal(set) var states: [AdamState?]

    public struct AdamState: Equatable, Sendable {
        public var step: Float
        public var expAvg: [Float]
        public var expAvgSq: [Float]
        public var maxExpAvgSq: [Float]?

        public init(step: Float, expAvg: [Float], expAvgSq: [Float], maxExpAvgSq: [Float]?) {
            self.step = step
            self.expAvg = expAvg
            self.expAvgSq = expAvgSq
            self.maxExpAvgSq = maxExpAvgSq
        }
    }

    /// Adam's defaults (lr 0.001, weight_decay 0); AdamW's are lr 0.001, weight_decay 0.01.
    public init(
        parameters: [NamedParameter], learningRate: Double = 0.001, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
        weightDecay: Double = 0, amsgrad: Bool = false, maximize: Bool = false, decoupledWeightDecay: Bool = false
    ) throws {
        let name = decoupledWeightDecay ? "AdamW" : "Adam"
        guard learningRate >= 0 else {
            throw NNError.invalidArgument(layer: name, argument: "lr", reason: "invalid learning rate: \(learningRate)")
        }
        guard eps >= 0 else { throw NNError.invalidArgument(layer: name, argument: "eps", reason: "invalid epsilon value: \(eps)") }
        guard (0..<1).contains(betas.0), (0..<1).contains(betas.1) else {
            throw NNError.invalidArgument(layer: name, argument: "betas", reason: "invalid beta parameters: \(betas)")
        }
        guard weightDecay >= 0 else {
            throw NNError.invalidArgument(layer: name, argument: "weight_decay", reason: "invalid weight_decay value: \(weightDecay)")
        }
        self.parameters = parameters
        self.learningRate = learningRate
        (beta1, beta2) = betas
        self.eps = eps
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.maximize = maximize
        self.decoupledWeightDecay = decoupledWeightDecay
        states = Array(repeating: nil, count: parameters.count)
    }

    /// Sets parameter `index`'s state, as `load_state_dict` does.
    public func restoreState(_ state: AdamState?, at index: Int) { states[index] = state }

    public func step(_ gradients: ParameterGradients) {
        let lerpWeight = Float(1 - beta1)
        let (beta2, oneMinusBeta2, eps) = (Float(self.beta2), Float(1 - self.beta2), Float(self.eps))
        for (index, parameter) in parameters.enumerated() {
            guard var g = gradients[parameter]?.scalars else { continue }
            var p = parameter.value.scalars
            var state =
                states[index]
                ?? AdamState(
                    step: 0, expAvg: Array(repeating: 0, count: p.count), expAvgSq: Array(repeating: 0, count: p.count),
                    maxExpAvgSq: amsgrad ? Array(repeating: 0, count: p.count) : nil)
            // Released from the list while it changes, so that its buffers are updated in place
            // rather than copied (two copies of every parameter, each step).
            states[index] = nil
            state.step += 1
            if maximize { g = g.map { -$0 } }
            if weightDecay != 0 {
                if decoupledWeightDecay {
                    let factor = Float(1 - learningRate * weightDecay)
                    for i in p.indices { p[i] = p[i] * factor }
                } else {
                    let decay = Float(weightDecay)
                    for i in g.indices { g[i] = g[i] + decay * p[i] }
                }
            }
            let step = Double(state.step)
            let biasCorrection1 = 1 - pow(beta1, step)
            let biasCorrection2 = 1 - pow(self.beta2, step)
            let update = AdamUpdate(
                lerpWeight: lerpWeight, beta2: beta2, oneMinusBeta2: oneMinusBeta2, eps: eps,
                stepSize: Float(-(learningRate / biasCorrection1)), correction2Root: Float(pow(biasCorrection2, 0.5)))
            let updated = update.apply(to: p, gradient: g, state: &state)
            states[index] = state
            parameter.update(to: updated)
        }
    }
}

/// One parameter's Adam update after its moments' bias corrections are known: per element,
/// `m = lerp(m, g, 1 - beta1)`, `v = beta2 v + (1 - beta2) g²`, with amsgrad `v̂ = max(v̂, v)`,
/// then `p += stepSize m / (sqrt(v or v̂) / sqrt(correction2) + eps)`, as PyTorch's single-tensor
/// code computes them. Chunks of elements run on the compute threads; each element's arithmetic
/// is its own, so the result does not depend on the thread count. The new values go to a new
/// array: the parameter's are shared (with the layer, its plans and pullbacks), so updating them
/// in place would first copy them all on one thread.
private struct AdamUpdate: Sendable {
    let lerpWeight: Float
    let beta2: Float
    let oneMinusBeta2: Float
    let eps: Float
    let stepSize: Float
    let correction2Root: Float

    func apply(to parameter: [Float], gradient: [Float], state: inout Adam.AdamState) -> [Float] {
        let count = parameter.count
        var updated = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        // Moved out of the state while they change, so that each buffer has one owner and is
        // written in place.
        var (average, averageSquare, largest) = (state.expAvg, state.expAvgSq, state.maxExpAvgSq ?? [])
        let amsgrad = state.maxExpAvgSq != nil
        (state.expAvg, state.expAvgSq, state.maxExpAvgSq) = ([], [], nil)
        defer { (state.expAvg, state.expAvgSq, state.maxExpAvgSq) = (average, averageSquare, amsgrad ? largest : nil) }
        withReadPointers(parameter, gradient) { p, g in
            updated.withUnsafeMutableBufferPointer { next in
                average.withUnsafeMutableBufferPointer { m in
                    averageSquare.withUnsafeMutableBufferPointer { v in
                        largest.withUnsafeMutableBufferPointer { vMax in
                            guard let next = next.baseAddress, let m = m.baseAddress, let v = v.baseAddress else { return }
                            let buffers = (
                                p: SharedPointer(p), next: SharedPointer(next), m: SharedPointer(m), v: SharedPointer(v),
                                g: SharedPointer(g)
                            )
                            // An empty array's buffer may still have an address: amsgrad decides.
                            let maxima = amsgrad ? vMax.baseAddress.map { SharedPointer($0) } : nil
                            let chunk = 1 << 14
                            parallelFor((count + chunk - 1) / chunk, costPerIndex: 8 * chunk) { index in
                                for i in (index * chunk)..<Swift.min(count, (index + 1) * chunk) {
                                    let gi = buffers.g.base[i]
                                    let mi = lerp(buffers.m.base[i], gi, lerpWeight)
                                    let vi = buffers.v.base[i] * beta2 + oneMinusBeta2 * gi * gi
                                    buffers.m.base[i] = mi
                                    buffers.v.base[i] = vi
                                    var second = vi
                                    if let maxima {
                                        second = Swift.max(maxima.base[i], vi)
                                        maxima.base[i] = second
                                    }
                                    let denominator = second.squareRoot() / correction2Root + eps
                                    buffers.next.base[i] = buffers.p.base[i] + stepSize * mi / denominator
                                }
                            }
                        }
                    }
                }
            }
        }
        return updated
    }
}

/// PyTorch's `lerp`: `a + w (b - a)` for `|w| < 0.5`, else `b - (b - a)(1 - w)`.
@inline(__always)
private func lerp(_ a: Float, _ b: Float, _ weight: Float) -> Float {
    abs(weight) < 0.5 ? a + weight * (b - a) : b - (b - a) * (1 - weight)
}
