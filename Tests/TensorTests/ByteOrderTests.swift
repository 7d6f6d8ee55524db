import Tensor
import Testing

@Suite("ByteOrder")
struct ByteOrderTests {
    @Test(arguments: [2, 4, 8])
    func swappingTwiceIsTheIdentity(width: Int) {
        let original = (0..<(width * 3)).map { UInt8($0) }
        var bytes = original
        swapByteOrder(&bytes, elementWidth: width)
        #expect(Array(bytes[0..<width]) == Array(original[0..<width].reversed()))
        swapByteOrder(&bytes, elementWidth: width)
        #expect(bytes == original)
    }

    @Test func singleBytesAndTrailingPartsAreLeftAlone() {
        var bytes: [UInt8] = [1, 2, 3]
        swapByteOrder(&bytes, elementWidth: 1)
        #expect(bytes == [1, 2, 3])
        swapByteOrder(&bytes, elementWidth: 2)
        #expect(bytes == [2, 1, 3])
    }

    @Test func littleEndianBytesAreTheFileOrder() throws {
        let tensor = try Tensor(shape: [1], storage: .int32([0x0102_0304]))
        #expect(tensor.littleEndianBytes == [4, 3, 2, 1])
        #expect(try Tensor(shape: [1], dtype: .int32, littleEndianBytes: [4, 3, 2, 1]) == tensor)
    }
}
