import Tensor

extension Sequential: Differentiable {
    /// Each child in order, one at a time (a fused plan is an eval-mode shortcut, not used
    /// here); the pullbacks run in reverse.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        var value = input
        var pullbacks: [Pullback] = []
        pullbacks.reserveCapacity(children.count)
        for child in children {
            let step = try child.module.differentiableForward(value, pass: pass)
            value = step.output
            pullbacks.append(step.pullback)
        }
        return (value, { gradient in try pullbacks.reversed().reduce(gradient) { try $1($0) } })
    }
}

extension BasicBlock: Differentiable {
    /// `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`: the gradient through the last
    /// ReLU goes unchanged to both sides of the add, and the input's gradient is the sum of what
    /// the main path and the shortcut (the identity without `downsample`) return. The add and the
    /// last ReLU are one pass, as in eval mode; ReLU's gradient needs only its output.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let shortcut = try downsample?.forwardWithPullback(input, pass: pass) ?? (input, { $0 })
        let main = try Sequential([conv1, bn1, ReLU(), conv2, bn2]).forwardWithPullback(input, pass: pass)
        let output = try residualAdd(main.output, shortcut.output, thenReLU: true)
        return (
            output,
            { gradient in
                let beforeReLU = try reluGradient(output, gradient)
                return try add(try main.pullback(beforeReLU), try shortcut.pullback(beforeReLU))
            }
        )
    }
}
