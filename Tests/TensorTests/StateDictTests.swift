import Tensor
import Testing

@Suite("StateDict")
struct StateDictTests {
    private let a = Tensor(shape: [1], scalars: [1])
    private let b = Tensor(shape: [2], scalars: [2, 3])

    @Test func keepsInsertionOrderAndReplacesInPlace() {
        var stateDict = StateDict([("z", a), ("a", b)])
        stateDict["z"] = b
        #expect(stateDict.keys == ["z", "a"])
        #expect(stateDict["z"] == b)
        #expect(stateDict.map(\.key) == ["z", "a"])
    }

    @Test func removalAndInsertionAtAPosition() {
        var stateDict = StateDict([("x", a), ("y", a), ("z", a)])
        stateDict["y"] = nil
        #expect(stateDict.keys == ["x", "z"])
        stateDict.insert(b, forKey: "m", at: 1)
        #expect(stateDict.keys == ["x", "m", "z"])
        stateDict.insert(b, forKey: "end", at: 99)
        #expect(stateDict.keys.last == "end")
    }

    @Test func totalsCountElementsAndBytesInStoredDTypes() {
        let stateDict = StateDict([("f", b), ("i", Tensor(zeros: [3], dtype: .int64))])
        #expect(stateDict.count == 2)
        #expect(stateDict.elementCount == 5)
        #expect(stateDict.byteCount == 2 * 4 + 3 * 8)
        #expect(StateDict().isEmpty)
    }
}
