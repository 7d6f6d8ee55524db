import ModelZoo

do {
    let model = try ZooModel(contentsOf: "Zoo/digits.h5")
    for prediction in try model.classify(pictures: ["Docs/digit.png"], top: 3) {
        for score in prediction.top { print(score.name ?? "\(score.index)", score.probability) }
    }
    let report = model.verify()
    print(report.passed ? "verified: \(model.name)" : "FAILED: \(report.failureSummary ?? "")")
} catch {
    print("error: \(error)")
}
