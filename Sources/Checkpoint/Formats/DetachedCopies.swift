/// Copies that own their storage, for what a reader keeps out of a tree of values it is about to
/// let go (a pickle's, a JSON header's).
///
/// A kept string or array that shares its storage with the tree keeps one small block alive
/// among each tensor's freed nodes. With many small tensors the tensors read next (1 KiB each)
/// fit none of the gaps between those blocks, so the allocator never reuses the tree's memory and
/// a read's peak is the tree and the tensors added up: 8 MB more for the safetensors header of
/// 20,000 tensors. Copied after the tree is whole, the kept values sit together beyond it, and
/// the tree's memory is one free stretch the tensors then fill.
extension String {
    /// The same text in storage of its own (short strings are stored inline anyway).
    var detached: String { String(decoding: Array(utf8), as: UTF8.self) }
}

extension TensorReference {
    /// The same reference with its strings and arrays in storage of their own.
    var detached: TensorReference {
        var copy = self
        copy.storage.key = storage.key.detached
        copy.storage.location = storage.location.detached
        copy.shape = shape.map { $0 }
        copy.strides = strides.map { $0 }
        return copy
    }
}
