import Tensor

/// The values of one graph pass, each held plain, in oneDNN's blocked layout, or both: a value
/// is reordered from one to the other at most once, when a node first reads it in the layout
/// it lacks (densenet's dense block inputs feed every layer of the block).
final class GraphLayoutValues {
    private(set) var plain: [String: Tensor]
    private var blocked: [String: BlockedActivation] = [:]

    init(_ plain: [String: Tensor]) { self.plain = plain }

    /// The value as it is held, blocked when it is.
    subscript(name: String) -> LayoutValue? {
        if let value = blocked[name] { return .blocked(value) }
        return plain[name].map(LayoutValue.plain)
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
        guard let tensor = plain[name], tensor.rank == 4 else { return nil }
        let value = try BlockedActivation.blocked(tensor)
        blocked[name] = value
        return value
    }

    /// Whether the value's blocked form is referenced by this store alone (no other name, no
    /// caller), so that a node may write over it at its last use.
    func isSolelyHeld(_ name: String) -> Bool {
        guard blocked[name] != nil else { return false }
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
