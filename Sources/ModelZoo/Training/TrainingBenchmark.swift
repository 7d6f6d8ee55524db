import NN
import Tensor

/// Timings of training steps, as `zoo bench train` prints them.
public struct TrainBenchmarkReport: Sendable, Encodable {
    public var arch: String
    public var batch: Int
    public var inputShape: [Int]
    public var optimizer: OptimizerKind
    public var threads: Int
    public var repeats: Int
    public var minMilliseconds: Double
    public var medianMilliseconds: Double
    public var peakResidentBytes: Int

    private enum CodingKeys: String, CodingKey {
        case arch, batch, inputShape = "input_shape", optimizer, threads, repeats = "repeat"
        case minMilliseconds = "min_ms", medianMilliseconds = "median_ms", peakResidentBytes = "peak_rss_bytes"
    }
}

extension Benchmark {
    /// Times training steps of `model` in train mode: the forward with its pullbacks,
    /// cross-entropy against random classes (MSE against zeros for an output that is not
    /// `(N, classes)`), the backward, and one `optimizer` step (lr 0.001), on random input
    /// (seed 0); two untimed steps first.
    public static func train(
        _ model: Module, label: String, sampleShape: [Int], batch: Int, optimizer kind: OptimizerKind, repeats: Int
    ) throws -> TrainBenchmarkReport {
        let shape = [batch] + sampleShape
        try MemoryAdmission.admit(try MemoryEstimate(model: model, inputShape: shape))
        var generator = SeededGenerator(seed: 0)
        let input = Tensor(shape: shape, scalars: generator.uniform(count: shape.reduce(1, *), bound: 1))
        let parameters = model.namedParameters()
        let optimizer: any Optimizer =
            kind == .sgd
            ? try SGD(parameters: parameters, learningRate: 0.001, momentum: 0.9)
            : try Adam(parameters: parameters, learningRate: 0.001, decoupledWeightDecay: kind == .adamw)
        model.train()
        let outputShape = try model.outputShape(for: shape)
        let classifies = outputShape.count == 2
        let target: Tensor =
            classifies
            ? try Tensor(
                shape: [batch], storage: .int64((0..<batch).map { _ in Int64.random(in: 0..<Int64(outputShape[1]), using: &generator) }))
            : Tensor(zeros: outputShape)
        let loss: any Loss = classifies ? CrossEntropyLoss() : MSELoss()
        let step = {
            let pass = TrainingPass(generator: generator)
            pass.needsInputGradient = false
            let (output, pullback) = try model.differentiableForward(input, pass: pass)
            _ = try pullback(try loss.evaluate(output, target).gradient)
            optimizer.step(pass.gradients)
        }
        for _ in 0..<2 { try step() }
        let times = try (0..<max(1, repeats)).map { _ in try milliseconds { try step() } }.sorted()
        return TrainBenchmarkReport(
            arch: label, batch: batch, inputShape: shape, optimizer: kind, threads: ComputeThreads.count, repeats: times.count,
            minMilliseconds: times[0], medianMilliseconds: times[times.count / 2], peakResidentBytes: peakResidentBytes())
    }
}
