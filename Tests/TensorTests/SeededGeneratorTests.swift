import Tensor
import Testing

@Suite("SeededGenerator")
struct SeededGeneratorTests {
    @Test func theSameSeedGivesTheSameStream() {
        var first = SeededGenerator(seed: 42)
        var second = SeededGenerator(seed: 42)
        #expect((0..<8).map { _ in first.next() } == (0..<8).map { _ in second.next() })
        var again = SeededGenerator(seed: 42)
        var other = SeededGenerator(seed: 43)
        #expect(again.next() != other.next())
    }

    @Test func uniformStaysInItsBoundAndAnEmptyBoundGivesZeros() {
        var generator = SeededGenerator(seed: 1)
        let draws = generator.uniform(count: 10_000, bound: 0.25)
        #expect(draws.allSatisfy { abs($0) <= 0.25 })
        #expect((draws.max() ?? 0) > 0.24 && (draws.min() ?? 0) < -0.24)
        #expect(generator.uniform(count: 3, bound: 0) == [0, 0, 0])
    }

    @Test func normalHasTheRequestedSpread() {
        var generator = SeededGenerator(seed: 2)
        let draws = generator.normal(count: 20_000, standardDeviation: 2)
        let mean = draws.reduce(0, +) / Float(draws.count)
        let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(draws.count)
        #expect(abs(mean) < 0.05)
        #expect(abs(variance.squareRoot() - 2) < 0.05)
    }
}
