import Tensor

/// Maps the gradient of the loss with respect to a layer's output to the gradient with respect to
/// its input, adding the layer's parameter gradients to the pass's ``ParameterGradients`` on the
/// way.
public typealias Pullback = (Tensor) throws -> Tensor

/// A layer that can run a forward pass whose gradient can be taken: training in Swift.
///
/// The design is reverse mode by pullbacks rather than a global tape. Each layer's
/// ``forwardWithPullback(_:pass:)`` runs the layer's ordinary forward in its current mode (train
/// mode: BatchNorm's batch statistics and running-stat update, Dropout's mask) and returns, beside
/// the output, a closure that holds exactly what the backward needs (the input, the output, a
/// max-pool's winning indices, BatchNorm's batch statistics, a dropout mask) and nothing else.
/// Containers compose them: ``Sequential`` chains its children's pullbacks in reverse order,
/// ``BasicBlock`` splits the gradient at the residual add into the main path and the shortcut and
/// adds what the two return. So the "tape" is the chain of closures a forward leaves behind,
/// released as soon as the caller drops the last pullback, and the model's classes stay as they
/// are: a forward pass that is not differentiated pays nothing.
///
/// Parameter gradients accumulate (`+=`) into the ``TrainingPass``'s store, keyed by module and
/// slot, as PyTorch's `.grad` accumulates; an optimizer reads them in `named_parameters()` order
/// (``ModuleBase/namedParameters(prefix:)``). Every kernel runs in a fixed order, so one input gives the
/// same gradients bit for bit on every run.
public protocol Differentiable: Layer {
    /// The output of ``Layer/forward(_:)`` on `input`, and its pullback.
    func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback)
}

/// What one forward-and-backward shares: the parameter gradients the pullbacks add to, and the
/// generator Dropout draws its masks from.
public final class TrainingPass {
    public let gradients: ParameterGradients
    /// Dropout's masks are drawn from it in the order the layers run: the same seed gives the
    /// same masks.
    public var generator: SeededGenerator
    /// Whether the input of the next layer to run needs its gradient. A training loop sets it
    /// false before the forward, as PyTorch's input does not require grad: the first
    /// convolution then skips its input gradient (its costliest half), and pulls back zeros.
    /// Every layer's output needs one, so it turns true after each layer.
    public var needsInputGradient = true

    public init(gradients: ParameterGradients = ParameterGradients(), generator: SeededGenerator = SeededGenerator(seed: 0)) {
        self.gradients = gradients
        self.generator = generator
    }
}

extension Layer {
    /// Runs this layer (and its children) with a pullback, or throws naming the first layer that
    /// has no backward pass.
    public func differentiableForward(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        guard let layer = self as? any Differentiable else {
            throw NNError.training(layer: typeName, reason: "has no backward pass, so a model holding it cannot be trained")
        }
        let result = try layer.forwardWithPullback(input, pass: pass)
        pass.needsInputGradient = true
        return result
    }
}
