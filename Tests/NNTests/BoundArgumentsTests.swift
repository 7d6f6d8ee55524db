import Dispatch
import Synchronization
import Tensor
import TestSupport
import Testing

@testable import NN

/// A convolution plan keeps its oneDNN execution arguments from call to call and re-points them
/// at each call's buffers (``OneDNNBoundArguments``), one call at a time a set (``ReusePool``):
/// calls from several threads at once must each get their own input's output, with channel
/// counts that leave padding in the last block, and the output must follow new weights.
@Suite("BoundArguments")
struct BoundArgumentsTests {
    private static func convolution(seed: UInt64) throws -> Conv2d {
        let layer = try Conv2d(inChannels: 24, outChannels: 40, kernelSize: 3, padding: 1)
        try layer.setLocalState("weight", to: seededTensor([40, 24, 3, 3], seed: seed))
        try layer.setLocalState("bias", to: seededTensor([40], seed: seed + 1))
        layer.eval()
        return layer
    }

    private static func output(_ layer: Conv2d, _ input: BlockedActivation) throws -> BlockedActivation? {
        guard case .blocked(let value)? = try layer.forwardKeepingLayout(.blocked(input), epilogue: nil) else { return nil }
        return value
    }

    /// `layer`'s blocked output on `input` against its plain one (``BlockedLayoutTests/expectClose(_:_:sourceLocation:)``:
    /// close, and the padding lanes zero).
    private static func expectBlockedOutput(
        _ output: BlockedActivation?, _ layer: Conv2d, _ input: BlockedActivation, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let output = try #require(output, "the convolution did not keep the blocked layout", sourceLocation: sourceLocation)
        try BlockedLayoutTests.expectClose(output, try layer(try input.plain()), sourceLocation: sourceLocation)
    }

    @Test func callsFromSeveralThreadsAtOnceGetTheirOwnOutputs() throws {
        let layer = SharedLayer(try Self.convolution(seed: 3))
        let inputs = try (0..<6).map { try BlockedActivation.blocked(seededTensor([1 + $0 % 2, 24, 48, 40], seed: UInt64(10 + $0))) }
        let results = ResultSlots(count: inputs.count * 16)
        DispatchQueue.concurrentPerform(iterations: results.count) { index in
            results.store(index, try? Self.output(layer.value, inputs[index % inputs.count]))
        }
        for index in 0..<results.count {
            try Self.expectBlockedOutput(results.value(index), layer.value, inputs[index % inputs.count])
        }
    }

    /// A holder that comes while another holds an item gets one of its own; both are kept and
    /// reused after.
    @Test func overlappingHoldersGetItemsOfTheirOwn() {
        final class Token: Sendable {}
        let pool = ReusePool<Token>()
        var made = 0
        func make() -> Token {
            made += 1
            return Token()
        }
        pool.withItem(make: make) { outer in
            pool.withItem(make: make) { inner in #expect(inner !== outer, "two holders at once share an item") }
        }
        #expect(made == 2)
        #expect(pool.idleCount == 2)
        pool.withItem(make: make) { _ in }
        #expect(made == 2, "an idle item was not reused")
    }

    @Test func newWeightsAreFollowed() throws {
        let layer = try Self.convolution(seed: 3)
        let input = try BlockedActivation.blocked(seededTensor([2, 24, 9, 7], seed: 4))
        _ = try Self.output(layer, input)
        try layer.setLocalState("weight", to: seededTensor([40, 24, 3, 3], seed: 30))
        layer.eval()
        try Self.expectBlockedOutput(try Self.output(layer, input), layer, input)
    }
}

/// One result slot per concurrent call, each written by one call only.
private final class ResultSlots: Sendable {
    private let slots: Mutex<[BlockedActivation?]>
    let count: Int

    init(count: Int) {
        slots = Mutex(Array(repeating: nil, count: count))
        self.count = count
    }

    func store(_ index: Int, _ value: BlockedActivation?) { slots.withLock { $0[index] = value } }
    func value(_ index: Int) -> BlockedActivation? { slots.withLock { $0[index] } }
}

/// A layer handed to several threads at once, as NN's documentation allows (its plan and kernel
/// caches are locked).
// @unchecked: the layer's state is only read while the threads run.
private struct SharedLayer: @unchecked Sendable {
    let value: Conv2d
    init(_ value: Conv2d) { self.value = value }
}
