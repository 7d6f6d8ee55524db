import Checkpoint
import Foundation
import NN
import Tensor

/// The result of running a model on one reference input.
public struct ReferenceResult: Sendable {
    public var name: String
    public var maxAbsoluteError: Double
    /// max |actual - expected| / max |expected|.
    public var relativeError: Double
    public var absoluteTolerance: Double
    public var relativeTolerance: Double
    /// Every element satisfies |actual - expected| <= atol + rtol * |expected| (NumPy's allclose).
    public var passed: Bool
    /// Why the forward pass could not be compared, when it could not.
    public var error: String?
}

/// Compares outputs element by element with NumPy's allclose rule.
public func compare(_ actual: Tensor, _ expected: Tensor, name: String, atol: Double, rtol: Double) -> ReferenceResult {
    guard actual.shape == expected.shape else {
        return ReferenceResult(name: name, maxAbsoluteError: .infinity, relativeError: .infinity, absoluteTolerance: atol, relativeTolerance: rtol, passed: false,
                               error: "output shape \(actual.shape) differs from the reference \(expected.shape)")
    }
    let a = actual.storage.doubles()
    let e = expected.storage.doubles()
    var worst = 0.0
    var largest = 0.0
    var passed = true
    for index in 0..<a.count {
        let difference = abs(a[index] - e[index])
        // A NaN on either side never counts as agreement (NumPy's allclose with equal_nan=False).
        if difference.isNaN {
            passed = false
            worst = .infinity
            continue
        }
        worst = max(worst, difference)
        largest = max(largest, abs(e[index]))
        if difference > atol + rtol * abs(e[index]) { passed = false }
    }
    return ReferenceResult(name: name, maxAbsoluteError: worst, relativeError: largest > 0 ? worst / largest : worst,
                           absoluteTolerance: atol, relativeTolerance: rtol, passed: passed, error: nil)
}

/// Everything `zoo verify` checks, in order, with its outcome.
public struct VerificationReport {
    public var path: String
    public var checkpoint: LoadedCheckpoint
    public var resolved: ResolvedModel?
    /// Why no model could be resolved (recognition failed, unknown arch, bad model_config).
    public var resolutionError: String?
    public var strict: StrictReport
    public var references: [ReferenceResult]

    public var passed: Bool {
        resolutionError == nil && strict.isClean && references.allSatisfy(\.passed)
    }

    /// Keys named by failures, for scripts.
    public var offendingKeys: [String] { strict.offendingKeys }
}

/// The tolerances used when neither the file nor the caller gives one.
public enum DefaultTolerance {
    public static let absolute = 1e-5
    public static let relative = 1e-4
}

public enum Verifier {
    /// readable -> layout normalised -> model resolved -> strict report (keys, shapes, dtypes,
    /// checksums, finite values) -> forward pass on `__tests__` and on `extra` cases.
    /// Tolerances given here override the file's; the file's override the defaults.
    public static func verify(
        _ checkpoint: LoadedCheckpoint, arch: String? = nil, extra: [ReferenceCase] = [],
        atol: Double? = nil, rtol: Double? = nil
    ) -> VerificationReport {
        var resolved: ResolvedModel?
        var resolutionError: String?
        do { resolved = try ModelResolver.resolve(checkpoint, arch: arch) } catch { resolutionError = "\(error)" }

        let strict: StrictReport
        if let resolved {
            strict = StrictReport(
                modelName: resolved.label, expected: resolved.model.expectedTensors, stateDict: checkpoint.stateDict,
                manifest: checkpoint.manifest, storedKeys: checkpoint.storedKeys)
        } else {
            strict = StrictReport(checkingIntegrityOf: checkpoint.stateDict, manifest: checkpoint.manifest, storedKeys: checkpoint.storedKeys)
        }

        var references: [ReferenceResult] = []
        let cases = checkpoint.referenceCases.map { ($0, "__tests__/\($0.name)") } + extra.map { ($0, $0.name) }
        if let resolved, !cases.isEmpty {
            let loadable = strict.missingKeys.isEmpty && strict.shapeMismatches.isEmpty
            if loadable {
                do {
                    // `strict` above already found every key present with its shape.
                    try resolved.model.loadState(from: { checkpoint.stateDict[$0] })
                    resolved.model.eval()
                } catch {
                    resolutionError = "cannot load the state_dict: \(error)"
                }
            }
            for (referenceCase, name) in cases {
                let tolerance = (
                    atol ?? referenceCase.absoluteTolerance ?? DefaultTolerance.absolute,
                    rtol ?? referenceCase.relativeTolerance ?? DefaultTolerance.relative)
                guard loadable else {
                    references.append(ReferenceResult(name: name, maxAbsoluteError: .infinity, relativeError: .infinity, absoluteTolerance: tolerance.0, relativeTolerance: tolerance.1, passed: false, error: "not run: the state_dict does not fit the model"))
                    continue
                }
                do {
                    let output = try resolved.model(referenceCase.input.converted(to: .float32))
                    references.append(compare(output, referenceCase.output, name: name, atol: tolerance.0, rtol: tolerance.1))
                } catch {
                    references.append(ReferenceResult(name: name, maxAbsoluteError: .infinity, relativeError: .infinity, absoluteTolerance: tolerance.0, relativeTolerance: tolerance.1, passed: false, error: "forward pass failed: \(error)"))
                }
            }
        }
        return VerificationReport(
            path: checkpoint.path, checkpoint: checkpoint, resolved: resolved, resolutionError: resolutionError,
            strict: strict, references: references)
    }
}
