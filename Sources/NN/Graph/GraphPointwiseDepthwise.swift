import Synchronization
import Tensor

/// A 1x1 convolution followed by the depthwise convolution that alone reads its output
/// (MobileNetV2's inverted residual blocks: expand, ReLU6, 3x3 depthwise, ReLU6; EfficientNet's,
/// with SiLU and 3x3 or 5x5), fused by ``GraphFusion`` into one node run as one call: of zoo's
/// kernel (``BlockedPointwiseDepthwise``) where it runs, else of oneDNN's fused primitive
/// (``OneDNNPointwiseDepthwise``, MobileNetV2's pairs only).
///
/// The node carries both fused convolution nodes' arguments, the depthwise one's under
/// ``depthwisePrefix`` (``GraphNodePair``). When neither kernel can run (a plain input, a shape
/// oneDNN declines), the two nodes run one after the other as they would unfused, the
/// intermediate value stored under its name until the depthwise one has read it.
enum GraphPointwiseDepthwise {
    static let target = "zoo.pointwise_depthwise"
    static let depthwisePrefix = "depthwise_"

    /// The fused node for `pointwise` and `depthwise` (both fused convolution nodes).
    static func node(pointwise: ExportedProgram.Node, depthwise: ExportedProgram.Node) -> ExportedProgram.Node {
        GraphNodePair.node(target: target, first: pointwise, second: depthwise, prefix: depthwisePrefix)
    }

    /// Whether two fused convolution nodes, `depthwise` reading `pointwise`'s output, are a pair
    /// a kernel runs: a 1x1, stride-1, unpadded, ungrouped convolution, then a 3x3 depthwise one
    /// (as many groups as channels) of stride 1 or 2 and padding 1, neither with a residual, each
    /// activation ReLU, a clamp (ReLU6) or none (oneDNN's fused primitive, or zoo's kernel); or,
    /// where zoo's kernel runs (AVX-512), a 5x5 depthwise one of padding 2 too, and SiLU too
    /// (EfficientNet's expansions).
    static func fuses(
        pointwise: ExportedProgram.Node, depthwise: ExportedProgram.Node, shapes: [String: [ShapeExpression]],
        activation: (ExportedProgram.Argument?) -> ConvolutionActivation?
    ) -> Bool {
        func activationFits(_ node: ExportedProgram.Node, _ zoosKernel: Bool) -> Bool {
            switch node.argument("activation", at: Int.max) {
            case nil, .none?: return true
            case let argument?:
                switch activation(argument) {
                case .relu?, .clamp?: return true
                case .silu?: return zoosKernel
                default: return false
                }
            }
        }
        guard pointwise.outputs.count == 1, depthwise.argument("input", at: 0) == .tensor(pointwise.outputs[0]),
            pointwise.argument("residual", at: Int.max) == nil, depthwise.argument("residual", at: Int.max) == nil,
            let pointwiseWeight = GraphNodePair.weightShape(pointwise, shapes: shapes),
            let depthwiseWeight = GraphNodePair.weightShape(depthwise, shapes: shapes)
        else { return false }
        let (channels, kernel) = (pointwiseWeight[0], depthwiseWeight[2])
        guard let stride = GraphNodePair.pair(depthwise, "stride", 1), stride == [1, 1] || stride == [2, 2] else { return false }
        let zoosKernel = BlockedPointwiseDepthwise.runs(kernel: kernel, stride: stride[0])
        return activationFits(pointwise, zoosKernel) && activationFits(depthwise, zoosKernel)
            && GraphNodePair.isPointwise(pointwise, weight: pointwiseWeight) && (kernel == 3 || (kernel == 5 && zoosKernel))
            && depthwiseWeight == [channels, 1, kernel, kernel] && GraphNodePair.groups(depthwise) == channels
            && GraphNodePair.pair(depthwise, "padding", 0) == [kernel / 2, kernel / 2]
            && GraphNodePair.pair(depthwise, "dilation", 1) == [1, 1]
    }

    /// The two nodes the fused one was made of.
    static func parts(of node: ExportedProgram.Node) throws -> (pointwise: ExportedProgram.Node, depthwise: ExportedProgram.Node) {
        let (pointwise, depthwise) = try GraphNodePair.parts(of: node, prefix: depthwisePrefix, firstSuffix: ".pointwise")
        return (pointwise, depthwise)
    }

    /// The node's layers (made on first use and kept, as a fused convolution's).
    static func layer(_ call: GraphCall) throws -> PointwiseDepthwiseLayer {
        try call.layer({ try PointwiseDepthwiseLayer(call) }, state: [])
    }

    /// The two convolutions on plain tensors, one after the other, as unfused.
    static func plain(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let layer = try layer(call)
        let outputs = try call.runApart([
            (layer.pointwiseNode, layer.pointwise, GraphFusion.fusedConvolution),
            (layer.depthwiseNode, layer.depthwise, GraphFusion.fusedConvolution),
        ])
        return (outputs, layer)
    }

    /// The fused kernel on a blocked input; else both convolutions as their blocked operators run
    /// them; nil when those decline too (the caller then runs ``plain(_:)``).
    static func blocked(_ call: GraphBlockedOperators.Call) throws -> (output: LayoutValue, layer: Module?)? {
        let layer = try layer(call.call)
        if case .blocked(let input)? = call.value("input", 0), let output = layer.fused(input) { return (.blocked(output), layer) }
        let output = try call.runApart([
            (layer.pointwiseNode, layer.pointwise, GraphBlockedOperators.fusedConvolution),
            (layer.depthwiseNode, layer.depthwise, GraphBlockedOperators.fusedConvolution),
        ])
        return output.map { ($0, layer) }
    }
}

/// The layers of a fused pointwise-depthwise node: each convolution with its BatchNorm folded in,
/// and the fused kernel by input shape (made on first use; a shape oneDNN declines is remembered).
final class PointwiseDepthwiseLayer: ModuleBase, Layer {
    let pointwiseNode: ExportedProgram.Node
    let depthwiseNode: ExportedProgram.Node
    let pointwise: Conv2d
    let depthwise: Conv2d
    private let pointwiseActivation: ConvolutionActivation?
    private let depthwiseActivation: ConvolutionActivation?
    private let plans = PlanCache<[Int], OneDNNPointwiseDepthwise>()
    /// zoo's kernel for the pair, where it runs (``BlockedPointwiseDepthwise``); else oneDNN's
    /// fused primitive, by input shape in `plans`.
    let kernel: BlockedPointwiseDepthwise?

    init(_ call: GraphCall) throws {
        (pointwiseNode, depthwiseNode) = try GraphPointwiseDepthwise.parts(of: call.node)
        let pointwiseCall = call.part(pointwiseNode, on: nil)
        let depthwiseCall = call.part(depthwiseNode, on: nil)
        pointwise = try GraphFusion.fusedConvolutionLayer(pointwiseCall)
        depthwise = try GraphFusion.fusedConvolutionLayer(depthwiseCall)
        pointwiseActivation = GraphFusion.fusedActivation(pointwiseCall)
        depthwiseActivation = GraphFusion.fusedActivation(depthwiseCall)
        let depthwiseEpilogue = depthwiseActivation.map { ConvolutionEpilogue(scale: nil, shift: nil, activation: $0) }
        kernel = depthwise.depthwiseKernel(epilogue: depthwiseEpilogue).flatMap { [pointwise, pointwiseActivation] in
            BlockedPointwiseDepthwise(
                pointwiseWeight: pointwise.weight.scalars, pointwiseBias: pointwise.bias?.scalars, inChannels: pointwise.inChannels,
                activation: pointwiseActivation, depthwise: $0)
        }
        super.init()
    }

    /// Whether a blocked input runs on zoo's kernel (``BlockedPointwiseDepthwise``).
    var runsOnZoosKernel: Bool { kernel != nil }

    /// Both convolutions of a blocked `input` in one call, of zoo's kernel or else oneDNN's; nil
    /// when neither can run them so.
    func fused(_ input: BlockedActivation) -> BlockedActivation? {
        if let kernel, input.shape.count == 4, input.shape[1] == kernel.inChannels, let output = try? kernel.run(input) { return output }
        // oneDNN's depthwise post-op is 3x3, with its activations' ReLU or clamp.
        func oneDNNRuns(_ activation: ConvolutionActivation?) -> Bool {
            switch activation {
            case nil, .relu?, .clamp?: true
            default: false
            }
        }
        guard depthwise.kernelSize == IntPair(3, 3), oneDNNRuns(pointwiseActivation), oneDNNRuns(depthwiseActivation) else { return nil }
        // The plan is looked up by input shape; the convolution's shape is worked out only to make it.
        let plan = try? plans.plan(for: input.shape) { () throws(OneDNNFallback) in
            guard var shape = try? pointwise.oneDNNShape(forLayoutValueOf: input.shape) else {
                throw .failed(call: "dnnl_convolution_forward_desc_init", status: .unimplemented)
            }
            (shape.activation, shape.hasBias) = (pointwiseActivation, true)
            return try OneDNNPointwiseDepthwise(
                pointwise: shape, pointwiseWeight: pointwise.weight.scalars,
                pointwiseBias: pointwise.bias?.scalars ?? [Float](repeating: 0, count: pointwise.outChannels),
                depthwiseStride: depthwise.stride.height, depthwiseWeight: depthwise.weight.scalars,
                depthwiseBias: depthwise.bias?.scalars ?? [Float](repeating: 0, count: depthwise.outChannels),
                depthwiseActivation: depthwiseActivation)
        }
        return try? plan?.run(input)
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        let middle = try pointwise.forward(
            input, epilogue: pointwiseActivation.map { ConvolutionEpilogue(scale: nil, shift: nil, activation: $0) })
        return try depthwise.forward(
            middle, epilogue: depthwiseActivation.map { ConvolutionEpilogue(scale: nil, shift: nil, activation: $0) })
    }

    public func outputShape(for shape: [Int]) throws -> [Int] { try depthwise.outputShape(for: try pointwise.outputShape(for: shape)) }
}
