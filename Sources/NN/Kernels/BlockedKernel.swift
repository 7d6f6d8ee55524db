/// One of zoo's own kernels from a blocked activation to a blocked activation, resolved for a
/// layer's weights (``BlockedDepthwise``, ``BlockedPointwiseDepthwise``,
/// ``BlockedNormalizedPointwise``): what a graph's prepared node runs on later passes.
protocol BlockedKernel: Sendable {
    /// The output for `input`; with `keepingMeans`, the output keeps its channels' means
    /// (``BlockedActivation/channelMeans``), the sums added in the order
    /// ``blockedChannelMeans(_:)`` adds them.
    func run(_ input: BlockedActivation, keepingMeans: Bool) throws(OneDNNFallback) -> BlockedActivation
}
