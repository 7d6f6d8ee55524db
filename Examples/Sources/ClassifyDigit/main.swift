import Foundation
import ModelZoo

// classify-digit [CHECKPOINT] [PICTURE]: the three most probable classes of a picture, as the
// README's "Use it from Swift" shows.
let arguments = CommandLine.arguments.dropFirst()
let checkpoint = arguments.first ?? "Zoo/digits.h5"
let picture = arguments.dropFirst().first ?? "Docs/digit.png"
do {
    let model = try ZooModel(contentsOf: checkpoint)
    print("\(model.name) from \(model.path)")
    for prediction in try model.classify(pictures: [picture], top: 3) {
        print(prediction.image)
        for score in prediction.top {
            print(String(format: "%8.2f%%  %@", score.probability * 100, score.name ?? "class \(score.index)"))
        }
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(2)
}
