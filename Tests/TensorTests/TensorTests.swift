import Tensor
import Testing

@Suite("Tensor")
struct TensorTests {
    @Test func elementCountRejectsNegativeAndOverflowingShapes() {
        #expect(Tensor.elementCount([]) == 1)
        #expect(Tensor.elementCount([2, 0, 3]) == 0)
        #expect(Tensor.elementCount([2, -1]) == nil)
        #expect(Tensor.elementCount([Int.max, 2]) == nil)
    }

    @Test func storageMustMatchTheShape() {
        #expect(throws: TensorError.self) { try Tensor(shape: [2, 2], storage: .float32([1, 2, 3])) }
        #expect(throws: TensorError.self) { try Tensor(shape: [-1], storage: .float32([])) }
    }

    @Test func reshapeKeepsElementsAndRefusesAnotherCount() throws {
        let tensor = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let reshaped = try tensor.reshaped([3, 2])
        #expect(reshaped.shape == [3, 2])
        #expect(reshaped.scalars == tensor.scalars)
        #expect(throws: TensorError.self) { try tensor.reshaped([4]) }
    }

    @Test func conversionRoundsAndClamps() throws {
        let tensor = Tensor(shape: [4], scalars: [-1.5, 0.4, 300, .nan])
        #expect(tensor.converted(to: .int8).storage == .int8([-1, 0, 127, 0]))
        #expect(tensor.converted(to: .uint8).storage == .uint8([0, 0, 255, 0]))
        #expect(tensor.converted(to: .bool).storage == .bool([true, true, true, true]))
        #expect(tensor.converted(to: .float32) == tensor)
    }

    @Test func nonFiniteCountCoversEveryFloatDType() {
        let values: [Float] = [1, .nan, .infinity, -.infinity, 0]
        let tensor = Tensor(shape: [5], scalars: values)
        for dtype in [DType.float32, .float64, .float16, .bfloat16] {
            #expect(tensor.converted(to: dtype).nonFiniteCount == 3, "\(dtype)")
        }
        #expect(tensor.converted(to: .int64).nonFiniteCount == 0)
    }
}
