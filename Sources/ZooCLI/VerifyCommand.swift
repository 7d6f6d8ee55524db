import ArgumentParser
import Checkpoint
import Foundation
import ModelZoo
import Tensor

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Check checkpoints: layout, architecture, keys, shapes, dtypes, checksums, finite values, and forward passes against reference outputs.",
        discussion: """
            Exit 0 when all that was checked holds, 1 when a check fails, 2 when a file cannot be read \
            or the arguments are wrong. With several files (`zoo verify Zoo/*.h5`) every file is \
            checked and the exit code is the worst of theirs; --json then prints an array. A \
            tolerance must be finite and non-negative, on the command line (else exit 2) and in the \
            file (else the check fails).
            """)

    @OptionGroup var output: OutputOptions
    @OptionGroup var reading: ReadOptions
    @OptionGroup var memory: MemoryOptions

    @Argument(help: "The checkpoints (.h5).", completion: .file())
    var files: [String]

    @Option(name: .long, help: "The registry architecture to check against, overriding the manifest and recognition.")
    var arch: ArchitectureName?

    @Option(name: .long, help: "A reference input (.npy) to run, with --expect.", completion: .file(extensions: ["npy"]))
    var input: String?

    @Option(name: .long, help: "The expected output (.npy) for --input.", completion: .file(extensions: ["npy"]))
    var expect: String?

    @Option(name: .long, help: "Absolute tolerance (default: the file's, else \(Tolerance.default.absolute)).")
    var atol: Double?

    @Option(name: .long, help: "Relative tolerance (default: the file's, else \(Tolerance.default.relative)).")
    var rtol: Double?

    @Flag(name: .long, help: "Ignore the tolerances the file states; use the defaults (or --atol/--rtol).")
    var defaultTolerance = false

    @Option(
        name: .long, help: "A public key (.pub) one of which must have signed the file (repeatable).",
        completion: .file(extensions: ["pub"]))
    var trust: [String] = []

    @Option(name: .long, help: "A folder of .pub keys one of which must have signed the file.", completion: .directory)
    var trustDir: String?

    func validate() throws {
        if files.isEmpty { throw ValidationError("Missing expected argument '<files> ...'") }
        if input != nil && files.count > 1 {
            throw ValidationError("--input/--expect check one file; give one checkpoint")
        }
        if (input == nil) != (expect == nil) {
            throw ValidationError("--input and --expect go together")
        }
        for (flag, value) in [("--atol", atol), ("--rtol", rtol)] {
            if let value, !(value.isFinite && value >= 0) {
                throw ValidationError("\(flag) must be a finite, non-negative number, got \(value)")
            }
        }
    }

    func run() throws {
        var options = VerificationOptions(
            arch: arch?.architecture.name, absoluteTolerance: atol, relativeTolerance: rtol, ignoresFileTolerances: defaultTolerance)
        options.memoryLimit = memory.maxMemory?.bytes
        if !trust.isEmpty || trustDir != nil {
            do {
                options.trustedKeys =
                    try trust.map(SigningKeys.publicKey(at:)) + (try trustDir.map(SigningKeys.publicKeys(inFolder:)) ?? [])
            } catch { throw ZooExit.unusable(FlagHints.message(error)) }
        }
        if let input, let expect {
            do {
                options.extra.append(ReferenceCase(name: input, input: try NumPyFile.read(input), output: try NumPyFile.read(expect)))
            } catch {
                throw ZooExit.unusable("cannot read the reference pair", details: ["\(error)"])
            }
        }
        let outcomes = Verifier.verify(files: files, reading: reading.files, options: options).map(FlagHints.apply(to:))
        for (index, outcome) in outcomes.enumerated() {
            if index > 0 && !output.json { Output.line() }
            let exit: ZooExit
            switch outcome {
            case .report(let report):
                if !output.json { VerifyCommand.printReport(report) }
                guard let summary = report.failureSummary else { continue }
                let memory = report.references.lazy.compactMap { result -> MemoryAdmissionError? in
                    if case .insufficientMemory(let error) = result.failure { error } else { nil }
                }.first
                if let memory {
                    exit = self.memory.failure(memory, running: report.path)
                } else if report.cannotRun {
                    exit = ZooExit.unusable("cannot run \(report.path): \(summary)")
                } else {
                    exit = ZooExit.failed("verification of \(report.path) failed: \(summary)")
                }
            case .unreadable(let path, let error):
                exit = ZooExit.unusable(VerificationOutcome.unreadableMessage(path: path), details: [FlagHints.message(error)])
            }
            guard files.count > 1 else {
                if output.json, case .report = outcome { Output.json(outcome) }
                throw exit
            }
            if let message = exit.message { Output.error(message, details: exit.details) }
        }
        if output.json {
            if files.count == 1, let only = outcomes.first { Output.json(only) } else { Output.json(outcomes) }
        }
        let worst = outcomes.worstStatus
        if worst != .passed { throw ZooExit(code: worst.exitCode) }
    }

    static func printReport(_ report: VerificationReport) {
        let checkpoint = report.checkpoint
        let strict = report.strict
        let format = checkpoint.manifest.map { "format v\($0.formatVersion)" } ?? "plain export, no manifest"
        Output.line(
            "file       \(report.path)  (\(format), \(checkpoint.stateDict.count) tensors, \(Output.bytes(checkpoint.stateDict.byteCount)))"
        )
        for note in checkpoint.layoutNotes { Output.line("layout     \(note)") }
        if let resolved = report.resolved {
            Output.line("model      \(resolved.label)  [\(report.modelSource ?? resolved.source.rawValue)]")
            for note in resolved.notes { Output.line("model      note: \(note)") }
        }
        if let error = report.resolutionError {
            Output.line("model      FAILED: \(error)")
        }
        if let load = strict.load, let resolved = report.resolved {
            let expected = resolved.model.stateDict().count
            let problems = load.missingKeys.count + load.unexpectedKeys.count + load.shapeMismatches.count
            Output.line("keys       \(problems == 0 ? "ok: \(expected) keys and shapes match" : "FAILED")")
            let converted = load.convertedKeys.isEmpty ? "" : " (\(load.convertedKeys.count) converted to the model's dtype)"
            Output.line("dtypes     \(load.dtypeMismatches.isEmpty ? "ok" : "FAILED")\(converted)")
        }
        let integrity = strict.integrity
        let checksums =
            !integrity.manifestListsTensors
            ? "none in the file" : integrity.checksumMismatches.isEmpty ? "ok: \(integrity.verifiedChecksums) verified" : "FAILED"
        Output.line("checksums  \(checksums)")
        Output.line("finite     \(integrity.nonFinite.isEmpty ? "ok" : "FAILED")")
        if !strict.isClean { Output.line(strict.description) }
        if report.references.isEmpty && report.sampleRuns.isEmpty {
            Output.line("forward    no reference vectors (add __tests__ or pass --input/--expect)")
        }
        for run in report.sampleRuns {
            let outcome =
                run.error.map { "FAILED: \($0)" }
                ?? "runs, output \(Output.shape(run.outputShape ?? [])); no reference output to compare (pass --input/--expect)"
            Output.line("forward    \(run.name) \(Output.shape(run.inputShape)): \(outcome)")
        }
        for result in report.references { Output.line("forward    \(result.name): " + describe(result)) }
        if let evaluation = report.evaluation { Output.line("eval       \(evaluation.summary)") }
        Output.line("signature  \(report.signatureSummary)")
        Output.line(report.passed ? "PASS" : "FAIL")
    }

    private static func describe(_ result: ReferenceResult) -> String {
        if let error = result.error { return "FAILED: \(error)" }
        var tolerance = "atol \(result.absoluteTolerance), rtol \(result.relativeTolerance)"
        if result.isLooserThanDefault {
            tolerance +=
                "; \(result.toleranceSource == .file ? "the file's, " : "")looser than the default "
                + "atol \(Tolerance.default.absolute), rtol \(Tolerance.default.relative)"
        }
        return "max abs err \(Output.scientific(result.maxAbsoluteError)), rel err \(Output.scientific(result.relativeError)) "
            + "(\(tolerance)) \(result.passed ? "ok" : "FAILED")"
    }
}
