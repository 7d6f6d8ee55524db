import Tensor

/// The values of one graph pass, each held plain, in oneDNN's blocked layout, or both: a value
/// is reordered from one to the other at most once, when a node first reads it in the layout
/// it lacks (densenet's dense block inputs feed every layer of the block).
final class GraphLayoutValues {
    /// The program's parameters and buffers by their graph names, read and never removed: one
    /// dictionary the module keeps between passes rather than 300 entries copied into each.
    private let state: [String: Tensor]
    private var plain: [String: Tensor]
    private var blocked: [String: BlockedActivation] = [:]

    /// The growing channel concatenations of this pass, by their first part: the parts laid out
    /// so far, their channels, and the buffer of `capacity` channels they are laid out in.
    private var growing: [String: (parts: [String], channels: Int, buffer: OneDNNBuffer, capacity: Int)] = [:]

    init(_ plain: [String: Tensor], state: [String: Tensor] = [:]) {
        self.plain = plain
        self.state = state
    }

    /// The value as a plain tensor, when it is held so (a parameter or buffer, or a computed value).
    func tensor(_ name: String) -> Tensor? { plain[name] ?? state[name] }

    /// `cat(parts, dim: 1)` of one sample's blocked `parts` (named `names`), laid out in a buffer of
    /// `capacity` channels that later concatenations of these parts and more extend in place: when
    /// an earlier concatenation of this pass laid out a prefix of `names` (16-channel aligned), only
    /// the new parts are copied, after it. Nil when the parts are not one sample, or all but the
    /// last do not fill whole 16-channel blocks, or `capacity` is not more than their channels.
    func growingConcatenation(of names: [String], parts: [BlockedActivation], capacity: Int) throws(OneDNNFallback)
        -> BlockedActivation?
    {
        let first = parts[0].shape
        guard first[0] == 1, parts.dropLast().allSatisfy({ $0.shape[1] % 16 == 0 }) else { return nil }
        let channels = parts.reduce(0) { $0 + $1.shape[1] }
        let shape = [1, channels, first[2], first[3]]
        let plane = first[2] * first[3]
        var laidOut = 0
        let buffer: OneDNNBuffer
        if let chain = growing[names[0]], chain.parts.count < names.count, Array(names.prefix(chain.parts.count)) == chain.parts,
            chain.channels % 16 == 0, channels <= chain.capacity
        {
            (buffer, laidOut) = (chain.buffer, chain.parts.count)
        } else {
            guard capacity > channels else { return nil }
            buffer = OneDNNBuffer(try BlockedActivation.layout(for: [1, capacity, first[2], first[3]]))
            growing[names[0]] = (parts: [], channels: 0, buffer: buffer, capacity: capacity)
        }
        let target = buffer.pointer.assumingMemoryBound(to: Float.self)
        var offset = parts[..<laidOut].reduce(0) { $0 + $1.paddedChannels * plane }
        for part in parts[laidOut...] {
            (target + offset).update(from: part.floats, count: part.paddedCount)
            offset += part.paddedCount
        }
        growing[names[0]] = (parts: names, channels: channels, buffer: buffer, capacity: growing[names[0]]?.capacity ?? capacity)
        return try BlockedActivation(channelPrefixOf: buffer, shape: shape)
    }

    /// The value as it is held, blocked when it is.
    subscript(name: String) -> LayoutValue? {
        if let value = blocked[name] { return .blocked(value) }
        return tensor(name).map(LayoutValue.plain)
    }

    func store(_ value: LayoutValue, as name: String) {
        switch value {
        case .plain(let tensor): plain[name] = tensor
        case .blocked(let value): blocked[name] = value
        }
    }

    func store(_ tensor: Tensor, as name: String) { plain[name] = tensor }

    /// The value in the blocked layout (reordered in and kept, when held plain and of rank 4).
    func blockedValue(_ name: String) throws -> BlockedActivation? {
        if let value = blocked[name] { return value }
        guard let tensor = tensor(name), tensor.rank == 4 else { return nil }
        let value = try BlockedActivation.blocked(tensor)
        blocked[name] = value
        return value
    }

    /// Whether the value's blocked form is referenced by this store alone (no other name, no
    /// caller), so that a node may write over it at its last use.
    func isSolelyHeld(_ name: String) -> Bool {
        guard blocked[name]?.sharesBuffer == false else { return false }
        return isKnownUniquelyReferenced(&blocked[name]!)
    }

    /// Reorders the value out to plain (and keeps it) when it is held only blocked.
    func makePlain(_ name: String) throws {
        guard plain[name] == nil, let value = blocked[name] else { return }
        plain[name] = try value.plain()
    }

    func remove(_ name: String) {
        plain[name] = nil
        blocked[name] = nil
    }
}
