import Tensor

/// What a model expects at one state_dict key.
public struct ExpectedTensor: Sendable, Equatable {
    public var key: String
    public var shape: [Int]
    public var dtype: DType

    public init(key: String, shape: [Int], dtype: DType) {
        self.key = key
        self.shape = shape
        self.dtype = dtype
    }
}

/// Every problem found when a state_dict is matched against what a model expects, each naming
/// its key. PyTorch's `load_state_dict(strict=True)` messages are the floor; this adds dtype,
/// finiteness and checksum checks and reports everything at once.
public struct StrictReport: Sendable, Equatable, CustomStringConvertible {
    public struct ShapeMismatch: Sendable, Equatable {
        public var key: String
        public var expected: [Int]
        public var found: [Int]
    }
    public struct DTypeProblem: Sendable, Equatable {
        public var key: String
        public var expected: DType
        public var found: DType
    }
    public struct NonFinite: Sendable, Equatable {
        public var key: String
        public var count: Int
        public var total: Int
    }
    public struct ChecksumMismatch: Sendable, Equatable {
        public var key: String
        public var reason: String
    }

    public var modelName: String
    public var missingKeys: [String] = []
    public var unexpectedKeys: [String] = []
    public var shapeMismatches: [ShapeMismatch] = []
    public var dtypeProblems: [DTypeProblem] = []
    public var nonFinite: [NonFinite] = []
    public var checksumMismatches: [ChecksumMismatch] = []
    /// Keys whose floating-point storage differs from the model's (e.g. float16 weights for a
    /// float32 model): converted on load, reported, not a failure.
    public var convertedKeys: [DTypeProblem] = []
    /// Tensors whose checksum was compared with the manifest and matched.
    public var verifiedChecksums = 0

    /// True when nothing is wrong: the state_dict loads exactly.
    public var isClean: Bool {
        missingKeys.isEmpty && unexpectedKeys.isEmpty && shapeMismatches.isEmpty && dtypeProblems.isEmpty
            && nonFinite.isEmpty && checksumMismatches.isEmpty
    }

    /// Every key named by a failure, in report order.
    public var offendingKeys: [String] {
        var seen = Set<String>()
        let all = missingKeys + unexpectedKeys + shapeMismatches.map(\.key) + dtypeProblems.map(\.key)
            + nonFinite.map(\.key) + checksumMismatches.map(\.key)
        return all.filter { seen.insert($0).inserted }
    }

    /// Compares `stateDict` with `expected`; checksums come from `manifest` when given, with
    /// `storedKeys` mapping canonical keys to the names the manifest used.
    public init(
        modelName: String, expected: [ExpectedTensor], stateDict: StateDict,
        manifest: Manifest? = nil, storedKeys: [String: String] = [:]
    ) {
        self.modelName = modelName
        let expectedKeys = Set(expected.map(\.key))
        for spec in expected {
            guard let tensor = stateDict[spec.key] else {
                missingKeys.append(spec.key)
                continue
            }
            // PyTorch loads a one-element [1] tensor into a 0-d slot (old num_batches_tracked files).
            let legacyScalar = spec.shape.isEmpty && tensor.shape == [1]
            if tensor.shape != spec.shape && !legacyScalar {
                shapeMismatches.append(ShapeMismatch(key: spec.key, expected: spec.shape, found: tensor.shape))
            }
            if tensor.dtype != spec.dtype {
                let problem = DTypeProblem(key: spec.key, expected: spec.dtype, found: tensor.dtype)
                if tensor.dtype.isFloatingPoint && spec.dtype.isFloatingPoint {
                    convertedKeys.append(problem)
                } else if !tensor.dtype.isFloatingPoint && !spec.dtype.isFloatingPoint && tensor.dtype != .bool && spec.dtype != .bool {
                    convertedKeys.append(problem)
                } else {
                    dtypeProblems.append(problem)
                }
            }
        }
        unexpectedKeys = stateDict.keys.filter { !expectedKeys.contains($0) }
        self.nonFinite = Self.findNonFinite(in: stateDict)
        if let manifest { checkChecksums(stateDict, manifest: manifest, storedKeys: storedKeys) }
    }

    /// Checks that needs no model: finiteness and manifest checksums.
    public init(checkingIntegrityOf stateDict: StateDict, manifest: Manifest?, storedKeys: [String: String] = [:]) {
        self.modelName = "(no model)"
        self.nonFinite = Self.findNonFinite(in: stateDict)
        if let manifest { checkChecksums(stateDict, manifest: manifest, storedKeys: storedKeys) }
    }

    private static func findNonFinite(in stateDict: StateDict) -> [NonFinite] {
        var found: [NonFinite] = []
        for (key, tensor) in stateDict where tensor.dtype.isFloatingPoint {
            let count = tensor.nonFiniteCount
            if count > 0 { found.append(NonFinite(key: key, count: count, total: tensor.count)) }
        }
        return found
    }

    private mutating func checkChecksums(_ stateDict: StateDict, manifest: Manifest, storedKeys: [String: String]) {
        guard !manifest.tensors.isEmpty else { return }
        var listed = Set(manifest.tensors.keys)
        for (key, tensor) in stateDict {
            let storedKey = storedKeys[key] ?? key
            guard let record = manifest.tensors[storedKey] ?? manifest.tensors[key] else {
                // The reader adds num_batches_tracked for files from old PyTorch; it was never exported.
                if key.hasSuffix("num_batches_tracked") { continue }
                checksumMismatches.append(ChecksumMismatch(key: key, reason: "not listed in the manifest"))
                continue
            }
            listed.remove(storedKey)
            listed.remove(key)
            if record.shape != tensor.shape {
                checksumMismatches.append(ChecksumMismatch(key: key, reason: "manifest says shape \(record.shape), file holds \(tensor.shape)"))
            } else if record.dtype != tensor.dtype.rawValue {
                checksumMismatches.append(ChecksumMismatch(key: key, reason: "manifest says dtype \(record.dtype), file holds \(tensor.dtype)"))
            } else if let expected = record.sha256 {
                let actual = tensor.sha256
                if expected.lowercased() == actual {
                    verifiedChecksums += 1
                } else {
                    checksumMismatches.append(ChecksumMismatch(
                        key: key, reason: "sha256 \(actual.prefix(12))… differs from the manifest's \(expected.prefix(12))…: the values changed after export"))
                }
            }
        }
        for key in listed.sorted() {
            checksumMismatches.append(ChecksumMismatch(key: key, reason: "listed in the manifest but absent from the file"))
        }
    }

    /// PyTorch's wording for the problems it reports, followed by ours.
    public var description: String {
        if isClean { return "All keys matched successfully" }
        var lines = ["Error(s) in loading state_dict for \(modelName):"]
        if !missingKeys.isEmpty {
            lines.append("\tMissing key(s) in state_dict: \(missingKeys.map { "\"\($0)\"" }.joined(separator: ", ")).")
        }
        if !unexpectedKeys.isEmpty {
            lines.append("\tUnexpected key(s) in state_dict: \(unexpectedKeys.map { "\"\($0)\"" }.joined(separator: ", ")).")
        }
        for mismatch in shapeMismatches {
            lines.append("\tsize mismatch for \(mismatch.key): copying a param with shape \(torchSize(mismatch.found)) from checkpoint, the shape in current model is \(torchSize(mismatch.expected)).")
        }
        for problem in dtypeProblems {
            lines.append("\tdtype mismatch for \(problem.key): checkpoint holds \(problem.found.torchName), the model expects \(problem.expected.torchName).")
        }
        for entry in nonFinite {
            lines.append("\tnon-finite values in \(entry.key): \(entry.count) of \(entry.total) elements are NaN or infinite.")
        }
        for mismatch in checksumMismatches {
            lines.append("\tchecksum mismatch for \(mismatch.key): \(mismatch.reason).")
        }
        return lines.joined(separator: "\n")
    }
}

/// `torch.Size([32, 3, 3, 3])`, as PyTorch prints shapes.
public func torchSize(_ shape: [Int]) -> String {
    "torch.Size([\(shape.map(String.init).joined(separator: ", "))])"
}
