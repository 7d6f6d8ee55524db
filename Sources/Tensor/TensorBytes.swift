/// Raw little-endian row-major bytes: the form checksums are computed over and the form
/// HDF5 reads into and writes from on little-endian hosts.
extension Tensor {
    /// The elements as little-endian bytes in the stored dtype (bool as 0/1 bytes).
    public var littleEndianBytes: [UInt8] {
        switch storage {
        case .float32(let a): return littleEndian(a, width: 4)
        case .float64(let a): return littleEndian(a, width: 8)
        case .float16(let a), .bfloat16(let a): return littleEndian(a, width: 2)
        case .int64(let a): return littleEndian(a, width: 8)
        case .int32(let a): return littleEndian(a, width: 4)
        case .int16(let a): return littleEndian(a, width: 2)
        case .int8(let a): return a.withUnsafeBytes { Array($0) }
        case .uint8(let a): return a
        case .bool(let a): return a.map { $0 ? 1 : 0 }
        }
    }

    /// Rebuilds a tensor from little-endian row-major bytes of `dtype`.
    public init(shape: [Int], dtype: DType, littleEndianBytes bytes: [UInt8]) throws(TensorError) {
        guard let count = Tensor.elementCount(shape), count.multipliedReportingOverflow(by: dtype.byteCount).overflow == false else {
            throw .invalidShape(shape)
        }
        guard bytes.count == count * dtype.byteCount else {
            throw .byteCountMismatch(dtype: dtype, shape: shape, expected: count * dtype.byteCount, actual: bytes.count)
        }
        let storage: TensorStorage
        switch dtype {
        case .float32: storage = .float32(values(bytes, width: 4))
        case .float64: storage = .float64(values(bytes, width: 8))
        case .float16: storage = .float16(values(bytes, width: 2))
        case .bfloat16: storage = .bfloat16(values(bytes, width: 2))
        case .int64: storage = .int64(values(bytes, width: 8))
        case .int32: storage = .int32(values(bytes, width: 4))
        case .int16: storage = .int16(values(bytes, width: 2))
        case .int8: storage = .int8(values(bytes, width: 1))
        case .uint8: storage = .uint8(bytes)
        case .bool: storage = .bool(bytes.map { $0 != 0 })
        }
        try self.init(shape: shape, storage: storage)
    }
}

/// True on every platform Swift ships for today; the big-endian paths keep the byte order of
/// files (little-endian by contract) independent of the host.
public let hostIsLittleEndian = 1.littleEndian == 1

/// Copies elements into bytes, swapping each element's bytes on big-endian hosts.
private func littleEndian<T>(_ values: [T], width: Int) -> [UInt8] {
    var bytes = values.withUnsafeBytes { Array($0) }
    if !hostIsLittleEndian { swapByteOrder(&bytes, elementWidth: width) }
    return bytes
}

/// Copies bytes into elements, swapping each element's bytes on big-endian hosts.
private func values<T>(_ bytes: [UInt8], width: Int) -> [T] {
    var source = bytes
    if !hostIsLittleEndian { swapByteOrder(&source, elementWidth: width) }
    let count = source.count / MemoryLayout<T>.stride
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        source.withUnsafeBytes { raw in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
        }
        initialized = count
    }
}

/// Reverses the bytes of each `elementWidth`-byte element in place: little-endian to big-endian
/// and back. A width of 1 (or a trailing partial element) is left as it is.
public func swapByteOrder(_ bytes: inout [UInt8], elementWidth: Int) {
    guard elementWidth > 1 else { return }
    for start in stride(from: 0, to: bytes.count - elementWidth + 1, by: elementWidth) {
        bytes[start..<(start + elementWidth)].reverse()
    }
}
