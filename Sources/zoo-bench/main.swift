import Foundation
import ModelZoo
import NN
import Tensor

// Forward-pass timings of registry models, eval mode, freshly initialised (seed 0), for
// comparison with Tools/bench_torch.py on the same machine. Build with -c release:
//     swift run -c release zoo-bench [repetitions]

struct Case {
    var name: String
    var arguments: [String: Int]
    var batch: Int
}

let cases = [
    Case(name: "simplecnn", arguments: [:], batch: 64),
    Case(name: "encdec", arguments: [:], batch: 16),
    Case(name: "net", arguments: [:], batch: 64),
    Case(name: "resnet18", arguments: [:], batch: 1),
    Case(name: "resnet18", arguments: [:], batch: 8),
]
let repetitions = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 10

func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

print("model       batch  input            median ms  min ms")
for benchmark in cases {
    let architecture = try Registry.architecture(named: benchmark.name)
    let model = try architecture.build(benchmark.arguments)
    var generator = SeededGenerator(seed: 0)
    try architecture.initialise(model, generator: &generator)
    model.eval()
    let shape = [benchmark.batch] + architecture.inputShape(try architecture.resolvedArguments(benchmark.arguments))
    let input = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1..<1, using: &generator) })
    _ = try model(input)
    var times: [Double] = []
    for _ in 0..<repetitions {
        times.append(try milliseconds { _ = try model(input) })
    }
    times.sort()
    let inputText = shape.dropFirst().map(String.init).joined(separator: "x")
    print(
        benchmark.name.padding(toLength: 12, withPad: " ", startingAt: 0)
            + String(benchmark.batch).padding(toLength: 7, withPad: " ", startingAt: 0)
            + inputText.padding(toLength: 17, withPad: " ", startingAt: 0)
            + String(format: "%9.2f  %6.2f", times[times.count / 2], times[0]))
}
