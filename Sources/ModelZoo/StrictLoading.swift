import Checkpoint
import NN
import Tensor

/// A state_dict that does not load strictly; the report names every problem.
public struct StrictLoadError: Error, CustomStringConvertible {
    public var report: StrictReport
    public var description: String { report.description }
}

extension Module {
    /// What the model's `state_dict()` holds: keys, shapes and dtypes.
    public var expectedTensors: [ExpectedTensor] {
        stateDict().map { ExpectedTensor(key: $0.key, shape: $0.tensor.shape, dtype: $0.tensor.dtype) }
    }

    /// Loads `stateDict` as PyTorch's `load_state_dict` does, after checking it with the strict
    /// report (keys, shapes, dtypes, finite values, and checksums when `manifest` is given).
    /// With `strict`, any problem throws ``StrictLoadError`` and nothing is loaded; without it,
    /// every key that fits is loaded and the report says what did not.
    @discardableResult
    public func load(
        _ stateDict: StateDict, strict: Bool = true, modelName: String, manifest: Manifest? = nil,
        storedKeys: [String: String] = [:]
    ) throws -> StrictReport {
        let report = StrictReport(modelName: modelName, expected: expectedTensors, stateDict: stateDict, manifest: manifest, storedKeys: storedKeys)
        if strict && !report.isClean { throw StrictLoadError(report: report) }
        let mismatched = Set(report.shapeMismatches.map(\.key))
        try loadState(from: { key in mismatched.contains(key) ? nil : stateDict[key] })
        return report
    }

    /// The model's state as a ``StateDict``, in PyTorch's order, ready to write.
    public func exportStateDict() -> StateDict {
        StateDict(stateDict().map { ($0.key, $0.tensor) })
    }
}
