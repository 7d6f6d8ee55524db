import Checkpoint
import Foundation
import JSON
import Tensor
import Testing

@testable import NN

/// The graph fusion pass rewrites what it says it rewrites, keeps every value a later node reads,
/// and frees each value only after its last reader. (That fused programs still give PyTorch's
/// outputs is GraphProgramTests' part: every program runs fused.)
@Suite("GraphFusion")
struct GraphFusionTests {
    private static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../CheckpointTests/Fixtures/pt2").standardized

    private func program(_ name: String) throws -> ExportedProgram {
        let checkpoint = try CheckpointReader.read(Self.folder.appendingPathComponent(name + ".pt2").path)
        let text = try #require(checkpoint.programText)
        return try ExportedProgram(json: try JSONValue.parse(text))
    }

    /// encdec's Conv2d -> BatchNorm2d -> ReLU chains become single convolutions.
    @Test func convolutionChainsBecomeOneNode() throws {
        let program = try program("encdec")
        let plan = GraphFusion.plan(program)
        let targets = plan.nodes.map(\.target)
        #expect(targets.contains("zoo.conv2d_epilogue"))
        #expect(!targets.contains("aten.batch_norm.default"))
        #expect(plan.nodes.count < program.nodes.count)
    }

    /// dense_concat's two `cat`s, each read only by a BatchNorm, ReLU and 1x1 convolution: where
    /// zoo's kernel runs, each pair reads the `cat`'s parts and the `cat` is gone (the second's
    /// parts, of 8 and 24 channels, are concatenated when it runs: GraphProgramTests checks
    /// both against PyTorch).
    @Test func aConcatenationReadOnlyByANormalizedConvolutionIsReadAsItsParts() throws {
        let program = try program("dense_concat")
        #expect(program.nodes.count { $0.target == "aten.cat.default" } == 2)
        let plan = GraphFusion.plan(program)
        let pairs = plan.nodes.filter { $0.target == GraphNormalizedPointwise.target }
        let readingParts = pairs.filter { if case .tensors(let parts)? = $0.argument("input", at: 0) { parts.count == 2 } else { false } }
        #expect(readingParts.count == (BlockedNormalizedPointwise.runs ? 2 : 0))
        #expect(plan.nodes.count { $0.target == "aten.cat.default" } == (BlockedNormalizedPointwise.runs ? 0 : 2))
    }

    /// own_forward's `relu(x + block(x))`: the add and the ReLU become post-ops of the block's
    /// last convolution, which reads `x` as its residual where the add did.
    @Test func aResidualAddAfterAConvolutionBecomesItsPostOp() throws {
        let program = try program("own_forward")
        #expect(program.nodes.contains { $0.target.hasPrefix("aten.add") })
        let plan = GraphFusion.plan(program)
        #expect(!plan.nodes.contains { $0.target.hasPrefix("aten.add") || $0.target == "zoo.add_relu" })
        let fused = try #require(plan.nodes.first { $0.argument("residual", at: GraphFusion.byName) != nil })
        #expect(fused.target == "zoo.conv2d_epilogue")
        #expect(fused.argument("activation", at: GraphFusion.byName) == .other("relu"))
    }

    @Test(arguments: ["graycnn", "encdec", "own_forward", "small_unet"])
    func everyReadValueIsComputedFirstAndFreedAfterItsLastReader(name: String) throws {
        let program = try program(name)
        let plan = GraphFusion.plan(program)
        var alive = Set(program.userInputs + program.stateInputs.map(\.argument))
        var freed = Set<String>()
        for (node, dying) in zip(plan.nodes, plan.lastUses) {
            for argument in node.arguments {
                let names: [String] =
                    switch argument.value {
                    case .tensor(let name): [name]
                    case .tensors(let names): names
                    default: []
                    }
                for name in names {
                    #expect(alive.contains(name), "\(name) read by \(node.name) before it exists")
                    #expect(!freed.contains(name), "\(name) read by \(node.name) after it was freed")
                }
            }
            alive.formUnion(node.outputs)
            freed.formUnion(dying)
        }
        for output in program.outputs {
            #expect(alive.contains(output))
            #expect(!freed.contains(output))
        }
    }

    /// Max pooling keeps NaN wherever a window holds one, on the path for windows inside the
    /// image (no padding) and on the bordered one, and otherwise gives each window's maximum.
    @Test(arguments: [(0, false), (1, false), (0, true)])
    func maxPoolingKeepsNaN(padding: Int, ceilMode: Bool) throws {
        let (height, width) = (9, 21)
        var generator = SeededGenerator(seed: 7)
        var values = generator.uniform(count: 2 * height * width, bound: 1)
        for index in [0, 17, 40, 200, 377] { values[index] = .nan }
        let input = Tensor(shape: [1, 2, height, width], scalars: values)
        let layer = try MaxPool2d(kernelSize: 2, stride: 2, padding: IntPair(padding, padding), ceilMode: ceilMode)
        let output = try layer(input)
        let (outHeight, outWidth) = (output.shape[2], output.shape[3])
        for plane in 0..<2 {
            for oh in 0..<outHeight {
                for ow in 0..<outWidth {
                    var window: [Float] = []
                    for ih in (oh * 2 - padding)..<(oh * 2 - padding + 2) where (0..<height).contains(ih) {
                        for iw in (ow * 2 - padding)..<(ow * 2 - padding + 2) where (0..<width).contains(iw) {
                            window.append(values[(plane * height + ih) * width + iw])
                        }
                    }
                    let got = output.scalars[(plane * outHeight + oh) * outWidth + ow]
                    if window.contains(where: \.isNaN) {
                        #expect(got.isNaN, "window (\(plane), \(oh), \(ow))")
                    } else {
                        #expect(got == window.max(), "window (\(plane), \(oh), \(ow))")
                    }
                }
            }
        }
    }
}
