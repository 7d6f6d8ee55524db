import HDF5
import Tensor

/// Maps tensors to HDF5 datasets and back, letting HDF5 convert element types.
enum TensorIO {
    static let dtypeAttribute = "dtype"

    static func read(_ dataset: HDF5Dataset, key: String, path: String) throws -> Tensor {
        let shape = try dataset.shape()
        let elementType = try dataset.elementType()
        let declared = try dataset.stringAttribute(dtypeAttribute)
        let (dtype, memoryType) = try choose(elementType, declared: declared, key: key, path: path)
        // Straight into the tensor's storage: one copy, as h5py reads into a NumPy array.
        return try dataset.read(as: memoryType, fileBytes: readInHalves) { byteCount, fill in
            guard let count = Tensor.elementCount(shape), count * memoryType.byteCount == byteCount else {
                throw CheckpointError.invalidTensor(
                    path: path, key: key, reason: "shape \(shape) does not match the dataset's \(byteCount) bytes")
            }
            return try Tensor(shape: shape, dtype: dtype) { buffer in
                try fill(buffer)
                // HDF5 reads native order; the tensor takes little-endian bytes.
                if !hostIsLittleEndian { swapByteOrder(in: buffer, elementWidth: memoryType.byteCount) }
            }
        }
    }

    /// A large dataset's bytes, straight from the file on two threads (``FileReads``).
    private static func readInHalves(_ descriptor: Int32, _ offset: Int, _ buffer: UnsafeMutableRawBufferPointer) throws {
        try FileReads.readInHalves(descriptor, at: offset, into: buffer, piece: buffer.count, meetingAt: 1) { _ in }
    }

    /// The dtype a stored element type means, and the memory type HDF5 should convert into.
    private static func choose(
        _ type: HDF5ElementType, declared: String?, key: String, path: String
    ) throws -> (DType, HDF5MemoryType) {
        if declared == DType.bfloat16.rawValue {
            switch type {
            case .integer(bytes: 2, signed: false): return (.bfloat16, .uint16)
            case .integer(bytes: 2, signed: true): return (.bfloat16, .int16)
            case .bfloat16Float: return (.bfloat16, .bfloat16)
            default:
                throw CheckpointError.invalidTensor(
                    path: path, key: key, reason: "marked dtype=bfloat16 but stored as \(type), not 16-bit data")
            }
        }
        switch type {
        case .float(bytes: 2): return (.float16, .float16)
        case .bfloat16Float: return (.bfloat16, .bfloat16)
        case .float(bytes: 4): return (.float32, .float32)
        case .float(bytes: 8): return (.float64, .float64)
        case .integer(bytes: 1, signed: true): return (.int8, .int8)
        case .integer(bytes: 1, signed: false): return (.uint8, .uint8)
        case .integer(bytes: 2, signed: true): return (.int16, .int16)
        case .integer(bytes: 4, signed: true): return (.int32, .int32)
        case .integer(bytes: 8, signed: true): return (.int64, .int64)
        case .boolean: return (.bool, .bool)
        default:
            throw CheckpointError.unsupportedElementType(path: path, key: key, found: type.description)
        }
    }

    static func write(_ tensor: Tensor, key: String, into group: HDF5Group) throws {
        let memoryType: HDF5MemoryType
        switch tensor.dtype {
        case .float32: memoryType = .float32
        case .float64: memoryType = .float64
        case .float16: memoryType = .float16
        case .bfloat16: memoryType = .uint16
        case .int64: memoryType = .int64
        case .int32: memoryType = .int32
        case .int16: memoryType = .int16
        case .int8: memoryType = .int8
        case .uint8: memoryType = .uint8
        case .bool: memoryType = .bool
        }
        let bytes = hostToLittleEndian(tensor.littleEndianBytes, width: memoryType.byteCount)
        let dataset = try bytes.withUnsafeBytes { buffer in
            try group.createDataset(key, shape: tensor.shape, type: memoryType, elements: buffer)
        }
        if tensor.dtype == .bfloat16 {
            try dataset.setAttribute(dtypeAttribute, string: DType.bfloat16.rawValue)
        }
    }

    /// HDF5 reads into native order; our tensors speak little-endian. On little-endian hosts
    /// (every platform Swift ships for today) this is the identity.
    private static func hostToLittleEndian(_ bytes: [UInt8], width: Int) -> [UInt8] {
        guard !hostIsLittleEndian else { return bytes }
        var swapped = bytes
        swapByteOrder(&swapped, elementWidth: width)
        return swapped
    }
}

extension HDF5Dataset {
    /// The dataset as a tensor in its stored dtype, read as checkpoints are read
    /// (bfloat16 by its `dtype` attribute; HDF5 converts byte order).
    public func readTensor() throws -> Tensor {
        try TensorIO.read(self, key: path, path: path)
    }
}
