import Tensor

/// What a model expects at one state_dict key.
public struct ExpectedTensor: Sendable, Equatable, Encodable {
    public var key: String
    public var shape: [Int]
    public var dtype: DType

    public init(key: String, shape: [Int], dtype: DType) {
        self.key = key
        self.shape = shape
        self.dtype = dtype
    }
}

/// How a state_dict fits a model: every key, shape and dtype problem at once, each naming its
/// key. PyTorch's `load_state_dict(strict=True)` messages are the floor; dtypes are checked too.
public struct LoadReport: Sendable, Equatable {
    public struct ShapeMismatch: Sendable, Equatable, Encodable {
        public var key: String
        public var expected: [Int]
        public var found: [Int]
    }

    public struct DTypeMismatch: Sendable, Equatable {
        public var key: String
        public var expected: DType
        public var found: DType
    }

    /// The model's name in messages, as PyTorch prints its class: `simplecnn(num_classes=10)`.
    public var modelName: String
    public var missingKeys: [String] = []
    public var unexpectedKeys: [String] = []
    public var shapeMismatches: [ShapeMismatch] = []
    /// int <-> float and bool <-> number: values would change meaning, so these fail.
    public var dtypeMismatches: [DTypeMismatch] = []
    /// Floating-point storage other than the model's (float16 weights for a float32 model), or
    /// integers of another width: converted on load, reported, not a failure.
    public var convertedKeys: [DTypeMismatch] = []

    /// Compares `stateDict` with what a model expects.
    public init(modelName: String, expected: [ExpectedTensor], stateDict: StateDict) {
        self.modelName = modelName
        let expectedKeys = Set(expected.map(\.key))
        for spec in expected {
            guard let tensor = stateDict[spec.key] else {
                missingKeys.append(spec.key)
                continue
            }
            if !Self.fits(tensor.shape, into: spec.shape) {
                shapeMismatches.append(ShapeMismatch(key: spec.key, expected: spec.shape, found: tensor.shape))
            }
            if tensor.dtype != spec.dtype {
                let mismatch = DTypeMismatch(key: spec.key, expected: spec.dtype, found: tensor.dtype)
                let bothFloat = tensor.dtype.isFloatingPoint && spec.dtype.isFloatingPoint
                let bothInteger =
                    !tensor.dtype.isFloatingPoint && !spec.dtype.isFloatingPoint
                    && tensor.dtype != .bool && spec.dtype != .bool
                if bothFloat || bothInteger { convertedKeys.append(mismatch) } else { dtypeMismatches.append(mismatch) }
            }
        }
        unexpectedKeys = stateDict.keys.filter { !expectedKeys.contains($0) }
    }

    /// PyTorch loads a one-element `[1]` tensor into a 0-d slot (old `num_batches_tracked` files).
    static func fits(_ found: [Int], into expected: [Int]) -> Bool {
        found == expected || (expected.isEmpty && found == [1])
    }

    /// True when the state_dict loads exactly: no missing, unexpected, misshapen or mistyped key.
    public var isClean: Bool {
        missingKeys.isEmpty && unexpectedKeys.isEmpty && shapeMismatches.isEmpty && dtypeMismatches.isEmpty
    }

    /// Every key named by a problem, in report order.
    public var offendingKeys: [String] {
        missingKeys + unexpectedKeys + shapeMismatches.map(\.key) + dtypeMismatches.map(\.key)
    }

    /// The problems in PyTorch's wording, one line each.
    public var problemLines: [String] {
        var lines: [String] = []
        if !missingKeys.isEmpty {
            lines.append("Missing key(s) in state_dict: \(missingKeys.map { "\"\($0)\"" }.joined(separator: ", ")).")
        }
        if !unexpectedKeys.isEmpty {
            lines.append("Unexpected key(s) in state_dict: \(unexpectedKeys.map { "\"\($0)\"" }.joined(separator: ", ")).")
        }
        for mismatch in shapeMismatches {
            lines.append(
                "size mismatch for \(mismatch.key): copying a param with shape \(torchSize(mismatch.found)) from checkpoint, "
                    + "the shape in current model is \(torchSize(mismatch.expected)).")
        }
        for mismatch in dtypeMismatches {
            lines.append(
                "dtype mismatch for \(mismatch.key): checkpoint holds \(mismatch.found.torchName), "
                    + "the model expects \(mismatch.expected.torchName).")
        }
        return lines
    }
}

/// A state_dict that does not load strictly; the report names every problem.
public struct LoadError: Error, Sendable, CustomStringConvertible {
    public var report: LoadReport

    public init(report: LoadReport) { self.report = report }
    public var description: String {
        (["Error(s) in loading state_dict for \(report.modelName):"] + report.problemLines.map { "\t" + $0 })
            .joined(separator: "\n")
    }
}

extension ModuleBase {
    /// What the model's `state_dict()` holds: keys, shapes and dtypes, read off the layers'
    /// ``StateSlot``s without making any tensor.
    public var expectedTensors: [ExpectedTensor] {
        modulesWithPrefixes().flatMap { entry in
            entry.module.stateSlots.map { ExpectedTensor(key: $0.key(entry.prefix), shape: $0.shape, dtype: $0.dtype) }
        }
    }

    /// Loads `stateDict` as PyTorch's `load_state_dict` does. With `strict` (the default), any
    /// missing, unexpected, misshapen or mistyped key throws ``LoadError`` and nothing is loaded;
    /// without it, every key whose shape and dtype fit is loaded and the report says what did not.
    /// Tensors are converted to each slot's dtype.
    @discardableResult
    public func load(_ stateDict: StateDict, strict: Bool = true, modelName: String? = nil) throws -> LoadReport {
        let report = LoadReport(modelName: modelName ?? typeName, expected: expectedTensors, stateDict: stateDict)
        if strict && !report.isClean { throw LoadError(report: report) }
        let skipped = Set(report.shapeMismatches.map(\.key) + report.dtypeMismatches.map(\.key))
        for entry in modulesWithPrefixes() {
            for slot in entry.module.stateSlots {
                let key = slot.key(entry.prefix)
                guard !skipped.contains(key), var tensor = stateDict[key] else { continue }
                if slot.shape.isEmpty && tensor.shape == [1] { tensor = try tensor.reshaped([]) }
                try entry.module.setLocalState(slot.name, to: tensor)
            }
        }
        return report
    }
}

/// `torch.Size([32, 3, 3, 3])`, as PyTorch prints shapes.
public func torchSize(_ shape: [Int]) -> String {
    "torch.Size([\(shape.map(String.init).joined(separator: ", "))])"
}
