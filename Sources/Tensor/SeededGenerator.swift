import Foundation

/// A seeded SplitMix64 generator: the same seed gives the same weights on every platform.
///
/// Layers draw their initial weights from it (`resetParameters(using:)`), so that a model built
/// and initialised twice from one seed is the same model, bit for bit.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The internal state: `SeededGenerator(seed: generator.state)` continues where this one is,
    /// which is how a training checkpoint saves and resumes its generator.
    public var currentState: UInt64 { state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` draws from U(-bound, bound); zeros when `bound` is not positive (an empty fan-in).
    public mutating func uniform(count: Int, bound: Float) -> [Float] {
        (0..<count).map { _ in bound > 0 ? Float.random(in: -bound..<bound, using: &self) : 0 }
    }

    /// `count` draws from N(0, standardDeviation²), by the Box-Muller transform.
    public mutating func normal(count: Int, standardDeviation: Float) -> [Float] {
        (0..<count).map { _ in
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
            let u2 = Double.random(in: 0..<1, using: &self)
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)) * standardDeviation
        }
    }
}
