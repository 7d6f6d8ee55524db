import Checkpoint
import NN
import Tensor

/// Everything that stands between a file's state_dict and a model that runs it: how it fits the
/// model (NN's `LoadReport`: keys, shapes, dtypes) and what the file proves about itself
/// (Checkpoint's `IntegrityReport`: finite values, checksums).
public struct StrictReport: Sendable, Equatable, CustomStringConvertible {
    /// Nil when no model could be chosen: only the integrity was checked.
    public var load: LoadReport?
    public var integrity: IntegrityReport

    public init(load: LoadReport?, integrity: IntegrityReport) {
        self.load = load
        self.integrity = integrity
    }

    public var missingKeys: [String] { load?.missingKeys ?? [] }
    public var unexpectedKeys: [String] { load?.unexpectedKeys ?? [] }
    public var shapeMismatches: [LoadReport.ShapeMismatch] { load?.shapeMismatches ?? [] }
    public var dtypeMismatches: [LoadReport.DTypeMismatch] { load?.dtypeMismatches ?? [] }
    public var convertedKeys: [LoadReport.DTypeMismatch] { load?.convertedKeys ?? [] }

    /// True when nothing is wrong: the state_dict loads exactly and proves itself intact.
    public var isClean: Bool { (load?.isClean ?? true) && integrity.isClean }

    /// True when every key the model needs is present with its shape: a forward pass can run.
    public var isLoadable: Bool { missingKeys.isEmpty && shapeMismatches.isEmpty }

    /// Every key named by a failure, in report order, each once.
    public var offendingKeys: [String] {
        var seen = Set<String>()
        return ((load?.offendingKeys ?? []) + integrity.offendingKeys).filter { seen.insert($0).inserted }
    }

    /// PyTorch's wording for the problems it reports, followed by ours.
    public var description: String {
        if isClean { return "All keys matched successfully" }
        let lines = (load?.problemLines ?? []) + integrity.problemLines
        return (["Error(s) in loading state_dict for \(load?.modelName ?? "(no model)"):"] + lines.map { "\t" + $0 })
            .joined(separator: "\n")
    }
}
