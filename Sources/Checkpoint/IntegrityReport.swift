import Tensor

/// Whether a tensor's checksum agrees with the manifest's record of it.
public enum ChecksumState: String, Sendable, Codable {
    case verified
    case mismatch = "MISMATCH"
    case noManifest = "no manifest"
}

/// What a checkpoint proves about itself without any model: every floating-point value finite,
/// and every tensor equal to the manifest's record of it (shape, dtype, SHA-256).
public struct IntegrityReport: Sendable, Equatable {
    public struct NonFinite: Sendable, Equatable {
        public var key: String
        public var count: Int
        public var total: Int
    }

    public struct ChecksumMismatch: Sendable, Equatable {
        public var key: String
        public var reason: String
    }

    public var nonFinite: [NonFinite] = []
    public var checksumMismatches: [ChecksumMismatch] = []
    /// Tensors whose checksum was compared with the manifest and matched.
    public var verifiedChecksums = 0
    /// True when the manifest lists tensors, so that checksums were checked at all.
    public var manifestListsTensors = false

    /// Checks `stateDict`; checksums come from `manifest` when given, with `storedKeys` mapping
    /// canonical keys to the names the manifest used (before a `module.` prefix was stripped).
    public init(_ stateDict: StateDict, manifest: Manifest?, storedKeys: [String: String] = [:]) {
        for (key, tensor) in stateDict where tensor.dtype.isFloatingPoint {
            let count = tensor.nonFiniteCount
            if count > 0 { nonFinite.append(NonFinite(key: key, count: count, total: tensor.count)) }
        }
        if let manifest, !manifest.tensors.isEmpty { checkChecksums(stateDict, manifest: manifest, storedKeys: storedKeys) }
    }

    public var isClean: Bool { nonFinite.isEmpty && checksumMismatches.isEmpty }

    /// Every key named by a problem, in report order.
    public var offendingKeys: [String] { nonFinite.map(\.key) + checksumMismatches.map(\.key) }

    /// The problems, one line each.
    public var problemLines: [String] {
        nonFinite.map { "non-finite values in \($0.key): \($0.count) of \($0.total) elements are NaN or infinite." }
            + checksumMismatches.map { "checksum mismatch for \($0.key): \($0.reason)." }
    }

    /// The checksum state of one tensor, as `zoo inspect` shows it.
    public static func checksumState(of tensor: Tensor, key: String, manifest: Manifest?, storedKeys: [String: String]) -> ChecksumState {
        checksumState(sha256: manifest == nil ? nil : tensor.sha256, key: key, manifest: manifest, storedKeys: storedKeys)
    }

    /// The same, given the tensor's checksum (computed whenever there is a manifest; nil counts
    /// as a mismatch against a record that has one).
    static func checksumState(sha256: String?, key: String, manifest: Manifest?, storedKeys: [String: String]) -> ChecksumState {
        guard let expected = manifest?.record(for: key, storedKeys: storedKeys)?.sha256 else { return .noManifest }
        return expected.lowercased() == sha256 ? .verified : .mismatch
    }

    private mutating func checkChecksums(_ stateDict: StateDict, manifest: Manifest, storedKeys: [String: String]) {
        manifestListsTensors = true
        // The hashes first, on every core: for a large checkpoint most of verifying its integrity.
        let hashed = stateDict.filter { key, tensor in
            guard let record = manifest.record(for: key, storedKeys: storedKeys) else { return false }
            return record.sha256 != nil && record.shape == tensor.shape && record.dtype == tensor.dtype.rawValue
        }
        let hashes = Dictionary(
            zip(hashed.map(\.key), mapInParallel(hashed.map(\.tensor)) { $0.sha256 }), uniquingKeysWith: { first, _ in first })
        var listed = Set(manifest.tensors.keys)
        for (key, tensor) in stateDict {
            let storedKey = storedKeys[key] ?? key
            guard let record = manifest.record(for: key, storedKeys: storedKeys) else {
                // The reader adds num_batches_tracked for files from old PyTorch; it was never exported.
                if key.hasSuffix("num_batches_tracked") { continue }
                checksumMismatches.append(ChecksumMismatch(key: key, reason: "not listed in the manifest"))
                continue
            }
            listed.remove(storedKey)
            listed.remove(key)
            if record.shape != tensor.shape {
                checksumMismatches.append(
                    ChecksumMismatch(key: key, reason: "manifest says shape \(record.shape), file holds \(tensor.shape)"))
            } else if record.dtype != tensor.dtype.rawValue {
                checksumMismatches.append(
                    ChecksumMismatch(key: key, reason: "manifest says dtype \(record.dtype), file holds \(tensor.dtype)"))
            } else if let expected = record.sha256 {
                let actual = hashes[key] ?? tensor.sha256
                if expected.lowercased() == actual {
                    verifiedChecksums += 1
                } else {
                    checksumMismatches.append(
                        ChecksumMismatch(
                            key: key,
                            reason: "sha256 \(actual.prefix(12))… differs from the manifest's \(expected.prefix(12))…: "
                                + "the values changed after export"))
                }
            }
        }
        for key in listed.sorted() {
            checksumMismatches.append(ChecksumMismatch(key: key, reason: "listed in the manifest but absent from the file"))
        }
    }
}

extension Manifest {
    /// The record for a canonical key, under the name the file stored it or the canonical one.
    public func record(for key: String, storedKeys: [String: String]) -> TensorRecord? {
        tensors[storedKeys[key] ?? key] ?? tensors[key]
    }
}
