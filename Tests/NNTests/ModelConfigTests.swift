import JSON
import NN
import Tensor
import Testing

struct ModelConfigTests {
    func config(_ layers: String) throws -> JSONValue {
        try JSONValue.parse("{\"layers\": [\(layers)]}")
    }

    @Test func unknownLayerTypeIsNamed() throws {
        let error = #expect(throws: NNError.self) { try ModelConfig.build(try config(#"{"type": "Conv3d", "in_channels": 1}"#)) }
        #expect(error == .unknownLayerType(type: "Conv3d", index: 0))
        #expect(error?.description.contains("Conv3d") == true)
    }

    @Test func unknownArgumentIsNamed() throws {
        let error = #expect(throws: NNError.self) {
            try ModelConfig.build(try config(#"{"type": "ReLU"}, {"type": "Linear", "in_features": 2, "out_features": 3, "bias_init": 0}"#))
        }
        #expect(error == .unknownArgument(layer: "Linear", argument: "bias_init", index: 1))
    }

    @Test func pytorchDefaultsApplyAndNamesArePrefixes() throws {
        let model = try ModelConfig.build(
            try config(
                #"{"type": "Conv2d", "name": "features", "in_channels": 2, "out_channels": 4, "kernel_size": [3, 1]}, {"type": "BatchNorm2d", "name": "bn", "num_features": 4}, {"type": "MaxPool2d", "kernel_size": 2}"#
            ))
        #expect(
            model.stateDict().map(\.key) == [
                "features.weight", "features.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
            ])
        let conv = try #require(model.children.first?.module as? Conv2d)
        #expect(conv.weight.shape == [4, 2, 3, 1])
        #expect(conv.stride == IntPair(1, 1))
        let pool = try #require(model.children.last?.module as? MaxPool2d)
        #expect(pool.stride == IntPair(2, 2), "stride defaults to kernel_size")
        let bn = try #require(model.children[1].module as? BatchNorm2d)
        #expect(bn.momentum == 0.1 && bn.eps == 1e-5)
    }

    @Test func momentumNullMeansCumulativeAverage() throws {
        let model = try ModelConfig.build(try config(#"{"type": "BatchNorm2d", "num_features": 1, "momentum": null}"#))
        let bn = try #require(model.children.first?.module as? BatchNorm2d)
        #expect(bn.momentum == nil)
    }

    @Test func badArgumentsAreExplained() throws {
        #expect(throws: NNError.self) {
            try ModelConfig.build(try config(#"{"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "groups": 2}"#))
        }
        #expect(throws: NNError.self) {
            try ModelConfig.build(
                try config(#"{"type": "Conv2d", "in_channels": 3, "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": "same"}"#))
        }
        #expect(throws: NNError.self) {
            try ModelConfig.build(try config(#"{"type": "Upsample", "scale_factor": 2, "align_corners": true}"#))
        }
        #expect(throws: NNError.self) { try ModelConfig.build(try config(#"{"type": "Linear", "in_features": "two", "out_features": 3}"#)) }
        #expect(throws: NNError.self) {
            try ModelConfig.build(try config(#"{"type": "ReLU", "name": "a"}, {"type": "ReLU", "name": "a"}"#))
        }
    }

    @Test func wrongInputShapeThrowsInsteadOfCrashing() throws {
        let model = try ModelConfig.build(try config(#"{"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3}"#))
        let error = #expect(throws: NNError.self) { try model(Tensor(zeros: [1, 2, 8, 8])) }
        #expect(error?.description.contains("[1, 2, 8, 8]") == true)
        #expect(throws: NNError.self) { try model(Tensor(zeros: [1, 3, 2, 2])) }
    }
}
