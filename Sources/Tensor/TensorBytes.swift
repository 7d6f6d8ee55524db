/// Raw little-endian row-major bytes: the form checksums are computed over and the form
/// HDF5 reads into and writes from on little-endian hosts.
extension Tensor {
    /// The elements as little-endian bytes in the stored dtype (bool as 0/1 bytes).
    public var littleEndianBytes: [UInt8] {
        switch storage {
        case .float32(let a): return bytes(of: a.map { $0.bitPattern.littleEndian })
        case .float64(let a): return bytes(of: a.map { $0.bitPattern.littleEndian })
        case .float16(let a), .bfloat16(let a): return bytes(of: a.map { $0.littleEndian })
        case .int64(let a): return bytes(of: a.map { $0.littleEndian })
        case .int32(let a): return bytes(of: a.map { $0.littleEndian })
        case .int16(let a): return bytes(of: a.map { $0.littleEndian })
        case .int8(let a): return a.map { UInt8(bitPattern: $0) }
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
        case .float32: storage = .float32(values(bytes, as: UInt32.self).map { Float(bitPattern: UInt32(littleEndian: $0)) })
        case .float64: storage = .float64(values(bytes, as: UInt64.self).map { Double(bitPattern: UInt64(littleEndian: $0)) })
        case .float16: storage = .float16(values(bytes, as: UInt16.self).map { UInt16(littleEndian: $0) })
        case .bfloat16: storage = .bfloat16(values(bytes, as: UInt16.self).map { UInt16(littleEndian: $0) })
        case .int64: storage = .int64(values(bytes, as: Int64.self).map { Int64(littleEndian: $0) })
        case .int32: storage = .int32(values(bytes, as: Int32.self).map { Int32(littleEndian: $0) })
        case .int16: storage = .int16(values(bytes, as: Int16.self).map { Int16(littleEndian: $0) })
        case .int8: storage = .int8(bytes.map { Int8(bitPattern: $0) })
        case .uint8: storage = .uint8(bytes)
        case .bool: storage = .bool(bytes.map { $0 != 0 })
        }
        try self.init(shape: shape, storage: storage)
    }
}

private func bytes<T>(of values: [T]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}

private func values<T>(_ bytes: [UInt8], as type: T.Type) -> [T] {
    let count = bytes.count / MemoryLayout<T>.stride
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        bytes.withUnsafeBytes { raw in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
        }
        initialized = count
    }
}
