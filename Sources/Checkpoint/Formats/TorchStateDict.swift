import Tensor

/// Turns an unpickled `torch.save` object into a state_dict: finds the tensors (unwrapping a
/// training script's dict around them) and copies each tensor's elements out of its storage,
/// honouring storage offsets and strides (views, transposes, several tensors on one storage).
enum TorchStateDict {
    /// Keys a training script's dict uses for the model's state_dict.
    static let wrapperKeys = ["state_dict", "model_state_dict", "model", "net"]

    /// The tensors of `object` with their keys, and how they were found; with `detaching`, copied
    /// out of the tree of values (``TensorReference/detached``), which readers let go before
    /// reading the tensors. Only worth it when the tensors are kept: a facts-only read (a
    /// ``TensorSink`` that keeps none) would hold the copies beside the tree for nothing.
    /// The copies are made as the tensors are found, so that the tree's own list of them is
    /// never held beside the copies.
    static func tensors(in object: PickleValue, detaching: Bool = false) throws(PickleError) -> (
        entries: [(String, TensorReference)], notes: [String]
    ) {
        guard case .dict(let root) = object else {
            throw .refused(.notAStateDict(kind: object.kind))
        }
        if let found = try flatten(root, detaching: detaching) { return (found, []) }
        for key in wrapperKeys {
            guard case .dict(let inner)? = root[key], let found = try flatten(inner, detaching: detaching) else { continue }
            var notes = ["read the state_dict from the wrapper key '\(key)'"]
            let ignored = root.entries.compactMap { $0.key.stringValue }.filter { $0 != key }
            if !ignored.isEmpty { notes.append("ignored entries outside '\(key)': \(ignored.joined(separator: ", "))") }
            return (found, notes)
        }
        var tensors: [(String, TensorReference)] = []
        var ignored: [String] = []
        for (key, value) in root.entries {
            guard let name = key.stringValue else { continue }
            if case .tensor(let tensor) = value {
                tensors.append(detaching ? (name.detached, tensor.detached) : (name, tensor))
            } else {
                ignored.append(name)
            }
        }
        guard !tensors.isEmpty else {
            throw .refused(.noTensors(keys: root.entries.prefix(8).map { $0.key.stringValue ?? $0.key.kind }))
        }
        return (tensors, ["ignored entries that are not tensors: \(ignored.joined(separator: ", "))"])
    }

    /// The dict's tensors with dotted keys, when every leaf is a tensor (nested dicts of
    /// tensors, as `{"encoder": enc.state_dict(), ...}`, are joined); nil otherwise.
    private static func flatten(_ dict: PickleDict, prefix: String = "", detaching: Bool, depth: Int = 0) throws(PickleError)
        -> [(String, TensorReference)]?
    {
        guard depth < 32, !dict.entries.isEmpty else { return nil }
        var result: [(String, TensorReference)] = []
        result.reserveCapacity(dict.entries.count)
        for (key, value) in dict.entries {
            guard let name = key.stringValue else { return nil }
            switch value {
            case .tensor(let tensor): result.append(detaching ? ((prefix + name).detached, tensor.detached) : (prefix + name, tensor))
            case .dict(let inner):
                guard let nested = try flatten(inner, prefix: prefix + name + ".", detaching: detaching, depth: depth + 1) else {
                    return nil
                }
                result += nested
            default: return nil
            }
        }
        return result
    }

    /// The tensor's elements, copied out of its storage's little-endian bytes.
    /// `copyRange`, when given, copies a contiguous tensor's bytes (a range of `storageBytes`) into
    /// its storage instead of a plain copy: a mapped file's ``MappedFile/copy(_:into:)``, which
    /// keeps a large tensor's pages from being resident twice.
    static func materialise(
        _ reference: TensorReference, storageBytes: UnsafeRawBufferPointer,
        copyRange: ((Range<Int>, UnsafeMutableRawBufferPointer) throws -> Void)? = nil
    ) throws(PickleError) -> Tensor {
        let dtype = reference.storage.dtype.dtype
        let width = dtype.byteCount
        let shape = reference.shape
        guard let count = Tensor.elementCount(shape), reference.offset >= 0, reference.strides.allSatisfy({ $0 >= 0 }) else {
            throw .damaged("a tensor has a negative or overflowing shape \(shape), offset or stride")
        }
        let storageElements = storageBytes.count / width
        let start = reference.storage.viewOffset + reference.offset
        var last = start
        if count > 0 {
            for (size, stride) in zip(shape, reference.strides) {
                let (step, overflow) = (size - 1).multipliedReportingOverflow(by: stride)
                guard !overflow, last <= Int.max - step else { throw .damaged("a tensor's strides overflow") }
                last += step
            }
            guard last < storageElements else {
                throw .damaged(
                    "storage '\(reference.storage.key)' holds \(storageElements) elements, but a tensor of shape \(shape) "
                        + "at offset \(start) needs \(last + 1)")
            }
        }
        do {
            if isContiguous(reference), let copyRange {
                return try Tensor(shape: shape, dtype: dtype) { try copyRange((start * width)..<((start + count) * width), $0) }
            }
            if isContiguous(reference) {
                let slice = UnsafeRawBufferPointer(rebasing: storageBytes[(start * width)..<((start + count) * width)])
                return try Tensor(shape: shape, dtype: dtype, littleEndianBytes: slice)
            }
            let bytes = gather(storageBytes, width: width, start: start, shape: shape, strides: reference.strides, count: count)
            return try Tensor(shape: shape, dtype: dtype, littleEndianBytes: bytes)
        } catch {
            throw .damaged("\(error)")
        }
    }

    /// True when the tensor's elements lie in row-major order without gaps (strides of size-1
    /// axes do not matter).
    static func isContiguous(_ reference: TensorReference) -> Bool {
        var expected = 1
        for (size, stride) in zip(reference.shape, reference.strides).reversed() where size != 1 {
            if stride != expected { return false }
            expected *= size
        }
        return true
    }

    /// Row-major walk over a strided view.
    private static func gather(
        _ from: UnsafeRawBufferPointer, width: Int, start: Int, shape: [Int], strides: [Int], count: Int
    ) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count * width)
        result.withUnsafeMutableBytes { to in
            walkRowMajor(shape: shape, strides: [strides], starts: [start]) { element, offsets in
                (to.baseAddress! + element * width).copyMemory(from: from.baseAddress! + offsets[0] * width, byteCount: width)
            }
        }
        return result
    }

    /// `('storage', storage_type, key, location, numel[, view_metadata])`: the persistent id
    /// both torch.save containers use. Any location (`cpu`, `cuda:0`, `mps`) is read as CPU bytes.
    static func storage(fromPersistentID id: PickleValue) throws(PickleError) -> StorageReference {
        guard let items = id.tupleValue, items.count >= 5, items[0].stringValue == "storage" else {
            if let items = id.tupleValue, items.first?.stringValue == "module" {
                throw .refused(.pickledModelSource)
            }
            throw .refused(.persistentIDNotAStorage)
        }
        guard case .global(let typeName) = items[1], let type = TorchStorageType(global: typeName) else {
            throw .refused(.unsupportedStorageType(kind: items[1].kind))
        }
        guard let key = items[2].stringValue, let location = items[3].stringValue, let count = items[4].intValue, count >= 0 else {
            throw .damaged("a storage's persistent id is malformed")
        }
        var reference = StorageReference(key: key, dtype: type, location: location, elementCount: count)
        if items.count > 5, let view = items[5].tupleValue, view.count == 3 {
            guard let viewKey = view[0].stringValue, let offset = view[1].intValue, let size = view[2].intValue, offset >= 0, size >= 0
            else {
                throw .damaged("a storage view is malformed")
            }
            reference = StorageReference(key: key, dtype: type, location: location, elementCount: size, viewOffset: offset)
            _ = viewKey
        }
        return reference
    }
}

extension CheckpointError {
    /// A pickle failure in `path`, as the error the user sees.
    init(_ error: PickleError, path: String) {
        switch error {
        case .refused(let refusal): self = .refused(path: path, refusal)
        case .damaged(let reason): self = .damaged(path: path, reason: reason)
        }
    }
}
