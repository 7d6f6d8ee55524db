#if canImport(Glibc)
    import Glibc
#endif

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
        _ = try Tensor.byteCount(shape: shape, dtype: dtype, given: bytes.count)
        let storage = bytes.withUnsafeBytes { TensorStorage(dtype: dtype, littleEndianBytes: $0) }
        try self.init(shape: shape, storage: storage)
    }

    /// Rebuilds a tensor from little-endian row-major bytes of `dtype` anywhere in memory (a
    /// mapped file): one copy, straight into the tensor's storage.
    public init(shape: [Int], dtype: DType, littleEndianBytes bytes: UnsafeRawBufferPointer) throws(TensorError) {
        _ = try Tensor.byteCount(shape: shape, dtype: dtype, given: bytes.count)
        try self.init(shape: shape, storage: TensorStorage(dtype: dtype, littleEndianBytes: bytes))
    }

    /// A tensor whose little-endian bytes `fill` writes straight into its storage (one copy from
    /// wherever they come from: a file, a zip entry).
    public init(
        shape: [Int], dtype: DType, fillingLittleEndianBytes fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws {
        guard let count = Tensor.elementCount(shape), !count.multipliedReportingOverflow(by: dtype.byteCount).overflow else {
            throw TensorError.invalidShape(shape)
        }
        func filled<T>(_: T.Type) throws -> [T] {
            var error: Error?
            var result = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                adviseHugePages(raw)
                do { try fill(raw) } catch let thrown {
                    // The elements are plain bytes: zero them so that nothing uninitialised escapes.
                    raw.initializeMemory(as: UInt8.self, repeating: 0)
                    error = thrown
                }
                initialized = count
            }
            if let error { throw error }
            if !hostIsLittleEndian {
                result.withUnsafeMutableBytes { swapByteOrder(in: $0, elementWidth: dtype.byteCount) }
            }
            return result
        }
        let storage: TensorStorage
        switch dtype {
        case .float32: storage = .float32(try filled(Float.self))
        case .float64: storage = .float64(try filled(Double.self))
        case .float16: storage = .float16(try filled(UInt16.self))
        case .bfloat16: storage = .bfloat16(try filled(UInt16.self))
        case .int64: storage = .int64(try filled(Int64.self))
        case .int32: storage = .int32(try filled(Int32.self))
        case .int16: storage = .int16(try filled(Int16.self))
        case .int8: storage = .int8(try filled(Int8.self))
        case .uint8: storage = .uint8(try filled(UInt8.self))
        // Bytes other than 0 and 1 are not valid Bools in memory: read bytes, then compare.
        case .bool: storage = .bool(try filled(UInt8.self).map { $0 != 0 })
        }
        try self.init(shape: shape, storage: storage)
    }

    /// The byte count `shape` of `dtype` needs, checked against `given`.
    private static func byteCount(shape: [Int], dtype: DType, given: Int) throws(TensorError) -> Int {
        guard let count = Tensor.elementCount(shape), !count.multipliedReportingOverflow(by: dtype.byteCount).overflow else {
            throw .invalidShape(shape)
        }
        guard given == count * dtype.byteCount else {
            throw .byteCountMismatch(dtype: dtype, shape: shape, expected: count * dtype.byteCount, actual: given)
        }
        return count * dtype.byteCount
    }
}

extension TensorStorage {
    /// Elements of `dtype` from little-endian bytes (bool as bytes that are 0 or not).
    init(dtype: DType, littleEndianBytes bytes: UnsafeRawBufferPointer) {
        switch dtype {
        case .float32: self = .float32(values(bytes, width: 4))
        case .float64: self = .float64(values(bytes, width: 8))
        case .float16: self = .float16(values(bytes, width: 2))
        case .bfloat16: self = .bfloat16(values(bytes, width: 2))
        case .int64: self = .int64(values(bytes, width: 8))
        case .int32: self = .int32(values(bytes, width: 4))
        case .int16: self = .int16(values(bytes, width: 2))
        case .int8: self = .int8(values(bytes, width: 1))
        case .uint8: self = .uint8(Array(bytes))
        case .bool: self = .bool(bytes.map { $0 != 0 })
        }
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
private func values<T>(_ bytes: UnsafeRawBufferPointer, width: Int) -> [T] {
    let count = bytes.count / MemoryLayout<T>.stride
    var result = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<(count * width)]))
        initialized = count
    }
    if !hostIsLittleEndian { result.withUnsafeMutableBytes { swapByteOrder(in: $0, elementWidth: width) } }
    return result
}

/// Reverses the bytes of each element in place, in any buffer.
public func swapByteOrder(in bytes: UnsafeMutableRawBufferPointer, elementWidth: Int) {
    guard elementWidth > 1 else { return }
    for start in stride(from: 0, to: bytes.count - elementWidth + 1, by: elementWidth) {
        bytes[start..<(start + elementWidth)].reverse()
    }
}

/// Asks the kernel to back a large, fresh buffer with transparent huge pages (as NumPy does
/// for its arrays): one fault per 2 MiB instead of per 4 KiB when it is first written, which is
/// most of the cost of reading a large checkpoint. Only the 2 MiB-aligned interior is advised.
func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
    #if os(Linux)
        let hugePage = 2 << 20
        guard buffer.count >= 2 * hugePage, let base = buffer.baseAddress else { return }
        let start = (Int(bitPattern: base) + hugePage - 1) / hugePage * hugePage
        let end = (Int(bitPattern: base) + buffer.count) / hugePage * hugePage
        if end > start, let address = UnsafeMutableRawPointer(bitPattern: start) {
            _ = madvise(address, end - start, 14)  // MADV_HUGEPAGE
        }
    #endif
}

/// Reverses the bytes of each `elementWidth`-byte element in place: little-endian to big-endian
/// and back. A width of 1 (or a trailing partial element) is left as it is.
public func swapByteOrder(_ bytes: inout [UInt8], elementWidth: Int) {
    bytes.withUnsafeMutableBytes { swapByteOrder(in: $0, elementWidth: elementWidth) }
}
