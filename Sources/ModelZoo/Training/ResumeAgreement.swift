import NN

extension RunState {
    /// On `--resume` the saved run continues as it was set up; a setting given again must be the
    /// run's (a resumed command line usually repeats the first one). One that differs is refused
    /// by name rather than ignored: PyTorch's `load_state_dict` would quietly restore the saved
    /// learning rate over a new one, and a user who asked for another rate would never know.
    func checkAgreement(with options: TrainingOptions, path: String) throws {
        var differences: [String] = []
        func compare<T: Equatable>(_ flag: String, _ given: T?, _ saved: T, _ shown: (T) -> String = { "\($0)" }) {
            if let given, given != saved { differences.append("\(flag) \(shown(given)) (the run has \(shown(saved)))") }
        }
        compare("--optimizer", options.optimizer, optimizerKind, \.rawValue)
        compare("--loss", options.loss, loss, \.rawValue)
        compare("--batch-size", options.batchSize, batchSize)
        compare("--seed", options.seed, seed)
        if options.shuffle == false && shuffle { differences.append("--no-shuffle (the run shuffles)") }
        // A scheduler moves the optimizer's rate; the rate the run was started with is its base.
        compare("--lr", options.learningRate, scheduler?.baseLearningRate ?? optimizer.learningRate)
        if let sgd = optimizer as? SGD {
            compare("--momentum", options.momentum, sgd.momentum)
            compare("--weight-decay", options.weightDecay, sgd.weightDecay)
        } else if let adam = optimizer as? Adam {
            if let momentum = options.momentum {
                differences.append("--momentum \(momentum) (the run's \(optimizerKind.rawValue) has none)")
            }
            compare("--weight-decay", options.weightDecay, adam.weightDecay)
        }
        guard differences.isEmpty else {
            throw TrainingError.options(
                "\(differences.joined(separator: ", ")) \(differences.count == 1 ? "differs" : "differ") from the run \(path) holds; --resume continues that run as it was set up"
            )
        }
    }
}
