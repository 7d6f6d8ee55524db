import Checkpoint
import Foundation
import NN
import Tensor

/// The result of running a model on one reference input.
public struct ReferenceResult: Sendable, Encodable {
    public var name: String
    /// max |actual - expected|; infinite when a NaN appeared or nothing could be compared.
    public var maxAbsoluteError: Double
    /// max |actual - expected| / max |expected|.
    public var relativeError: Double
    /// The tolerances used, as given (a file's NaN is kept so that the report can show it).
    public var absoluteTolerance: Double
    public var relativeTolerance: Double
    public var toleranceSource: Tolerance.Source
    /// True when the tolerances accept more error than the defaults (atol 1e-5, rtol 1e-4).
    public var isLooserThanDefault: Bool
    /// Every element satisfies |actual - expected| <= atol + rtol * |expected| (NumPy's allclose).
    public var passed: Bool
    /// Why the forward pass could not be compared, when it could not: the line printed (and in
    /// `--json`); ``failure`` is the same as a value.
    public var error: String?
    /// Why the forward pass could not be compared, as a value.
    public var failure: ReferenceFailure?

    private enum CodingKeys: String, CodingKey {
        case name, passed, atol, rtol, maxAbsoluteError = "max_abs_error", relativeError = "rel_error", error
        case toleranceSource = "tolerance_source", isLooserThanDefault = "looser_than_default"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(passed, forKey: .passed)
        try container.encode(absoluteTolerance, forKey: .atol)
        try container.encode(relativeTolerance, forKey: .rtol)
        try container.encode(toleranceSource, forKey: .toleranceSource)
        try container.encode(isLooserThanDefault, forKey: .isLooserThanDefault)
        if maxAbsoluteError.isFinite { try container.encode(maxAbsoluteError, forKey: .maxAbsoluteError) }
        if relativeError.isFinite { try container.encode(relativeError, forKey: .relativeError) }
        try container.encodeIfPresent(error, forKey: .error)
    }
}

/// Compares outputs element by element with NumPy's allclose rule; a NaN on either side never agrees.
public func compare(_ actual: Tensor, _ expected: Tensor, name: String, tolerance: Tolerance) -> ReferenceResult {
    var result = ReferenceResult(
        name: name, maxAbsoluteError: .infinity, relativeError: .infinity, absoluteTolerance: tolerance.absolute,
        relativeTolerance: tolerance.relative, toleranceSource: .default, isLooserThanDefault: tolerance.isLooserThanDefault,
        passed: false, error: nil)
    guard actual.shape == expected.shape else {
        result.fail(.shapeMismatch(output: actual.shape, reference: expected.shape))
        return result
    }
    let a = actual.storage.doubles()
    let e = expected.storage.doubles()
    var worst = 0.0
    var largest = 0.0
    var passed = true
    for index in 0..<a.count {
        let difference = abs(a[index] - e[index])
        // NumPy's allclose with equal_nan=False.
        if difference.isNaN {
            passed = false
            worst = .infinity
            continue
        }
        worst = max(worst, difference)
        largest = max(largest, abs(e[index]))
        if difference > tolerance.absolute + tolerance.relative * abs(e[index]) { passed = false }
    }
    result.maxAbsoluteError = worst
    result.relativeError = largest > 0 ? worst / largest : worst
    result.passed = passed
    return result
}

/// Why a reference case could not be compared.
public enum ReferenceFailure: Error, Sendable, CustomStringConvertible {
    /// A tolerance is NaN, infinite or negative; `source` says whose it is (a file's can be
    /// ignored in favour of the defaults).
    case invalidTolerance(source: Tolerance.Source, ToleranceError)
    /// The state_dict does not fit the model, so nothing was run.
    case doesNotFit
    case shapeMismatch(output: [Int], reference: [Int])
    case forwardFailed(any Error & Sendable)
    /// The pass would need more memory than it may use; nothing was allocated.
    case insufficientMemory(MemoryAdmissionError)

    public var description: String {
        switch self {
        case .invalidTolerance(let source, let error): return "\(source == .file ? "the file's" : "the given") \(error)"
        case .doesNotFit: return "not run: the state_dict does not fit the model"
        case .shapeMismatch(let output, let reference): return "output shape \(output) differs from the reference \(reference)"
        case .forwardFailed(let error): return "forward pass failed: \(error)"
        case .insufficientMemory(let error): return "not run: \(error)"
        }
    }
}

extension ReferenceResult {
    /// Records `failure` as the value and as the line.
    mutating func fail(_ failure: ReferenceFailure) {
        self.failure = failure
        error = failure.description
    }
}

/// Everything `zoo verify` checks, in order, with its outcome.
public struct VerificationReport: Encodable {
    public var path: String
    public var checkpoint: LoadedCheckpoint
    public var resolved: ResolvedModel?
    /// Why no model could be resolved (recognition failed, unknown arch, bad model_config): the
    /// line printed (and `model_error` in `--json`).
    public var resolutionError: String?
    /// The same failure as a value, when resolving (not loading) failed: a `ModelZooError`, an
    /// `NNError` from a model_config, ...
    public var resolutionFailure: (any Error & Sendable)?
    /// How the model was chosen, as printed (`model_source` in `--json`).
    public var modelSource: String?
    /// What the signature proves, as printed; `signature` holds it as values.
    public var signatureSummary: String
    /// The registry's nearest entries when recognition failed.
    public var candidates: [Candidate] = []
    public var strict: StrictReport
    public var references: [ReferenceResult]
    /// Passes on the file's sample inputs, run when there is no reference pair to compare.
    public var sampleRuns: [SampleInputRun] = []
    /// The held-out set's result, when the file has one.
    public var evaluation: EvaluationResult?
    /// What the file's signature proves.
    public var signature: SignatureCheck

    public var passed: Bool {
        resolutionError == nil && strict.isClean && references.allSatisfy(\.passed) && sampleRuns.allSatisfy(\.passed)
            && (evaluation?.passed ?? true) && signature.passed
    }

    /// Keys named by failures, for scripts.
    public var offendingKeys: [String] { strict.offendingKeys }

    /// The one-line reason for a failure, naming the keys when keys are to blame.
    public var failureSummary: String? {
        guard !passed else { return nil }
        let keys = offendingKeys
        if !keys.isEmpty { return keys.prefix(5).joined(separator: ", ") + (keys.count > 5 ? " and \(keys.count - 5) more" : "") }
        if let reason = resolutionError?.split(separator: "\n").first { return String(reason) }
        if let failed = references.first(where: { !$0.passed }) {
            return "forward pass \(failed.name) " + (failed.error.map { "failed: \($0)" } ?? "differs from the reference")
        }
        if let failed = sampleRuns.first(where: { !$0.passed }) { return "\(failed.name): \(failed.error ?? "")" }
        if let evaluation, !evaluation.passed { return "held-out set: \(evaluation.summary)" }
        if !signature.passed { return "signature: \(signatureSummary)" }
        return nil
    }

    private enum CodingKeys: String, CodingKey {
        case path, passed, layout, missingKeys = "missing_keys", unexpectedKeys = "unexpected_keys"
        case shapeMismatches = "shape_mismatches", dtypeProblems = "dtype_problems", converted
        case nonFinite = "non_finite", checksumMismatches = "checksum_mismatches", checksumsVerified = "checksums_verified"
        case offendingKeys = "offending_keys", forward, model, modelSource = "model_source", arch
        case modelError = "model_error", candidates, evaluation = "eval", signature, modelNotes = "model_notes"
        case sampleRuns = "sample_inputs"
    }

    private struct KeyReason: Encodable { var key: String; var reason: String }
    private struct KeyCount: Encodable { var key: String; var count: Int }
    private struct KeyDTypes: Encodable { var key: String; var expected: DType; var found: DType }
    private struct Conversion: Encodable { var key: String; var from: DType; var to: DType }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(passed, forKey: .passed)
        try container.encode(checkpoint.layoutNotes, forKey: .layout)
        try container.encode(strict.missingKeys, forKey: .missingKeys)
        try container.encode(strict.unexpectedKeys, forKey: .unexpectedKeys)
        try container.encode(strict.shapeMismatches, forKey: .shapeMismatches)
        try container.encode(
            strict.dtypeMismatches.map { KeyDTypes(key: $0.key, expected: $0.expected, found: $0.found) }, forKey: .dtypeProblems)
        try container.encode(strict.convertedKeys.map { Conversion(key: $0.key, from: $0.found, to: $0.expected) }, forKey: .converted)
        try container.encode(strict.integrity.nonFinite.map { KeyCount(key: $0.key, count: $0.count) }, forKey: .nonFinite)
        try container.encode(
            strict.integrity.checksumMismatches.map { KeyReason(key: $0.key, reason: $0.reason) }, forKey: .checksumMismatches)
        try container.encode(strict.integrity.verifiedChecksums, forKey: .checksumsVerified)
        try container.encode(offendingKeys, forKey: .offendingKeys)
        try container.encode(references, forKey: .forward)
        if !sampleRuns.isEmpty { try container.encode(sampleRuns, forKey: .sampleRuns) }
        if let resolved {
            try container.encode(resolved.label, forKey: .model)
            try container.encodeIfPresent(modelSource, forKey: .modelSource)
            try container.encodeIfPresent(resolved.architecture?.name, forKey: .arch)
            if !resolved.notes.isEmpty { try container.encode(resolved.notes, forKey: .modelNotes) }
        }
        try container.encodeIfPresent(resolutionError, forKey: .modelError)
        if !candidates.isEmpty { try container.encode(candidates, forKey: .candidates) }
        try container.encodeIfPresent(evaluation, forKey: .evaluation)
        try container.encode(signature, forKey: .signature)
    }
}

/// How `verify` chooses tolerances and what it runs beyond the file's own `__tests__`.
public struct VerificationOptions: Sendable {
    /// A registry architecture that overrides the manifest and recognition.
    public var arch: String?
    /// Reference pairs to run besides the file's.
    public var extra: [ReferenceCase] = []
    /// Tolerances that override the file's and the defaults, each on its own.
    public var absoluteTolerance: Double?
    public var relativeTolerance: Double?
    /// Ignore the tolerances the file states: the defaults (or the overrides above) apply.
    public var ignoresFileTolerances = false
    /// Public keys one of which must have signed the file; nil to report the signature only.
    public var trustedKeys: [Data]?
    /// The most memory a forward pass may use (default: what this process may still use); a pass
    /// past it is not run (``ReferenceFailure/insufficientMemory(_:)``).
    public var memoryLimit: Int?

    public init(
        arch: String? = nil, extra: [ReferenceCase] = [], absoluteTolerance: Double? = nil, relativeTolerance: Double? = nil,
        ignoresFileTolerances: Bool = false
    ) {
        self.arch = arch
        self.extra = extra
        self.absoluteTolerance = absoluteTolerance
        self.relativeTolerance = relativeTolerance
        self.ignoresFileTolerances = ignoresFileTolerances
    }

    /// The tolerance for one case, where it came from, and why it cannot be used when it cannot.
    func tolerance(for referenceCase: ReferenceCase, fromFile: Bool) -> (Tolerance.Source, Double, Double, ToleranceError?) {
        let useFile = fromFile && !ignoresFileTolerances
        let fileAbsolute = useFile ? referenceCase.absoluteTolerance : nil
        let fileRelative = useFile ? referenceCase.relativeTolerance : nil
        let absolute = absoluteTolerance ?? fileAbsolute ?? Tolerance.default.absolute
        let relative = relativeTolerance ?? fileRelative ?? Tolerance.default.relative
        let source: Tolerance.Source =
            absoluteTolerance != nil || relativeTolerance != nil
            ? .caller : (fileAbsolute != nil || fileRelative != nil ? .file : .default)
        do {
            _ = try Tolerance(absolute: absolute, relative: relative)
            return (source, absolute, relative, nil)
        } catch {
            return (source, absolute, relative, error)
        }
    }
}

public enum Verifier {
    /// readable -> layout normalised -> model resolved -> strict report (keys, shapes, dtypes,
    /// checksums, finite values) -> forward pass on `__tests__` and on the extra cases.
    /// Tolerances in `options` override the file's; the file's override the defaults. A NaN,
    /// infinite or negative tolerance, from anywhere, fails its check.
    ///
    /// `program` is the checkpoint's torch.export program when it was parsed as the file was read
    /// (``FileReading/checkpointAndProgram(at:)``); otherwise it is parsed from `programText`.
    public static func verify(
        _ checkpoint: LoadedCheckpoint, program: ParsedProgram? = nil, options: VerificationOptions = VerificationOptions()
    ) -> VerificationReport {
        var resolved: ResolvedModel?
        var resolutionError: String?
        var resolutionFailure: (any Error & Sendable)?
        var candidates: [Candidate] = []
        do {
            resolved = try ModelResolver.resolve(checkpoint, arch: options.arch, program: program)
        } catch {
            resolutionError = "\(error)"
            resolutionFailure = error
            candidates = (error as? ModelZooError)?.candidates ?? []
        }
        let integrity = IntegrityReport(checkpoint.stateDict, manifest: checkpoint.manifest, storedKeys: checkpoint.storedKeys)
        var load: LoadReport?
        if let resolved {
            do {
                // Not strict: whatever fits is loaded, and the report says what did not.
                load = try resolved.model.load(checkpoint.stateDict, strict: false, modelName: resolved.label)
                InferenceFusion.apply(to: resolved.model)
                // A few passes: no lasting second copy of the weights in oneDNN's layout, so that
                // verifying peaks near the checkpoint's own bytes.
                resolved.model.keepPreparedConvolutionWeights(false)
            } catch {
                resolutionError = "cannot load the state_dict: \(error)"
            }
        }
        let strict = StrictReport(load: load, integrity: integrity)
        var references: [ReferenceResult] = []
        let cases = checkpoint.referenceCases.map { ($0, "__tests__/\($0.name)", true) } + options.extra.map { ($0, $0.name, false) }
        if let resolved, load != nil {
            for (referenceCase, name, fromFile) in cases {
                references.append(run(resolved.model, on: referenceCase, name: name, fromFile: fromFile, options: options, strict: strict))
            }
        }
        var sampleRuns: [SampleInputRun] = []
        if cases.isEmpty, let resolved, load != nil, strict.isLoadable {
            sampleRuns = SampleInputRun.runs(of: resolved.model, on: checkpoint.sampleInputs, memoryLimit: options.memoryLimit)
        }
        var evaluation: EvaluationResult?
        if let set = checkpoint.evalSet, let resolved, load != nil {
            if strict.isLoadable {
                evaluation = Evaluator.evaluate(resolved.model, on: set, claimedAccuracy: checkpoint.manifest?.claimedAccuracy)
            } else {
                evaluation = EvaluationResult(
                    count: set.count, accuracy: 0, pytorchAccuracy: 0, agreeing: 0, claimedAccuracy: nil,
                    error: "not run: the state_dict does not fit the model")
            }
        }
        let signature = Signer.check(checkpoint, trustedKeys: options.trustedKeys)
        return VerificationReport(
            path: checkpoint.path, checkpoint: checkpoint, resolved: resolved, resolutionError: resolutionError,
            resolutionFailure: resolutionFailure, modelSource: resolved?.source.rawValue, signatureSummary: signature.summary,
            candidates: candidates, strict: strict, references: references, sampleRuns: sampleRuns, evaluation: evaluation,
            signature: signature)
    }

    private static func run(
        _ model: Module, on referenceCase: ReferenceCase, name: String, fromFile: Bool, options: VerificationOptions,
        strict: StrictReport
    ) -> ReferenceResult {
        let (source, absolute, relative, toleranceError) = options.tolerance(for: referenceCase, fromFile: fromFile)
        var result = ReferenceResult(
            name: name, maxAbsoluteError: .infinity, relativeError: .infinity, absoluteTolerance: absolute,
            relativeTolerance: relative, toleranceSource: source,
            isLooserThanDefault: absolute > Tolerance.default.absolute || relative > Tolerance.default.relative,
            passed: false, error: nil)
        if let toleranceError {
            result.fail(.invalidTolerance(source: source, toleranceError))
            return result
        }
        guard strict.isLoadable else {
            result.fail(.doesNotFit)
            return result
        }
        do {
            try MemoryAdmission.admit(MemoryEstimate(model: model, inputShape: referenceCase.input.shape), limit: options.memoryLimit)
        } catch let error as MemoryAdmissionError {
            result.fail(.insufficientMemory(error))
            return result
        } catch {
            result.fail(.forwardFailed(error))
            return result
        }
        do {
            let output = try model(referenceCase.input.converted(to: .float32))
            var compared = compare(
                output, referenceCase.output, name: name, tolerance: try Tolerance(absolute: absolute, relative: relative))
            compared.toleranceSource = source
            return compared
        } catch {
            result.fail(.forwardFailed(error))
            return result
        }
    }
}
