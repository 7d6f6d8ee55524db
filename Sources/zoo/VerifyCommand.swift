import ArgumentParser
import Checkpoint
import JSON
import ModelZoo

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check checkpoints: layout, architecture, keys, shapes, dtypes, checksums, finite values, and forward passes against reference outputs.",
        discussion: """
            Exit 0 when all that was checked holds, 1 when a check fails, 2 when a file cannot be read \
            or the arguments are wrong. With several files (`zoo verify Zoo/*.h5`) every file is \
            checked and the exit code is the worst of theirs; --json then prints an array.
            """)

    @OptionGroup var output: OutputOptions

    @Argument(help: "The checkpoints (.h5).")
    var files: [String]

    @Option(name: .long, help: "The registry architecture to check against, overriding the manifest and recognition.")
    var arch: String?

    @Option(name: .long, help: "A reference input (.npy) to run, with --expect.")
    var input: String?

    @Option(name: .long, help: "The expected output (.npy) for --input.")
    var expect: String?

    @Option(name: .long, help: "Absolute tolerance (default: the file's, else \(DefaultTolerance.absolute)).")
    var atol: Double?

    @Option(name: .long, help: "Relative tolerance (default: the file's, else \(DefaultTolerance.relative)).")
    var rtol: Double?

    func validate() throws {
        if files.isEmpty { throw ValidationError("Missing expected argument '<files> ...'") }
        if input != nil && files.count > 1 {
            throw ValidationError("--input/--expect check one file; give one checkpoint")
        }
        if (input == nil) != (expect == nil) {
            throw ValidationError("--input and --expect go together")
        }
        if let atol, atol < 0 { throw ValidationError("--atol must be non-negative") }
        if let rtol, rtol < 0 { throw ValidationError("--rtol must be non-negative") }
    }

    func run() throws {
        if let arch {
            do { _ = try Registry.architecture(named: arch) } catch { throw ZooExit.unusable("\(error)") }
        }
        var extra: [ReferenceCase] = []
        if let input, let expect {
            do {
                extra.append(ReferenceCase(name: input, input: try NumPyFile.read(input), output: try NumPyFile.read(expect)))
            } catch {
                throw ZooExit.unusable("cannot read the reference pair", details: ["\(error)"])
            }
        }
        var worst: ZooExit?
        var reports: [JSONValue] = []
        for (index, file) in files.enumerated() {
            if index > 0 && !output.json { Output.line() }
            do {
                let report = Verifier.verify(try readCheckpoint(file), arch: arch, extra: extra, atol: atol, rtol: rtol)
                if output.json { reports.append(VerifyCommand.json(report)) } else { VerifyCommand.printReport(report) }
                if !report.passed { throw VerifyCommand.failure(report, file: file) }
            } catch let exit as ZooExit {
                guard files.count > 1 else { throw exit }
                if let message = exit.message { Output.error(message, details: exit.details) }
                if output.json { reports.append(.object(["path": .string(file), "passed": .bool(false), "error": .string(exit.message ?? "")])) }
                if exit.code > (worst?.code ?? 0) { worst = ZooExit(code: exit.code) }
            }
        }
        if output.json { Output.json(files.count == 1 ? reports[0] : .array(reports)) }
        if let worst { throw worst }
    }

    /// The one-line summary for stderr: the offending keys, else why no key is to blame.
    static func failure(_ report: VerificationReport, file: String) -> ZooExit {
        let keys = report.offendingKeys
        var summary = keys.isEmpty ? "" : ": " + keys.prefix(5).joined(separator: ", ") + (keys.count > 5 ? " and \(keys.count - 5) more" : "")
        if keys.isEmpty, let reason = report.resolutionError?.split(separator: "\n").first {
            summary = ": \(reason)"
        } else if keys.isEmpty, let failed = report.references.first(where: { !$0.passed }) {
            summary = ": forward pass \(failed.name) differs from the reference"
        }
        return ZooExit.failed("verification of \(file) failed\(summary)")
    }

    static func printReport(_ report: VerificationReport) {
        let checkpoint = report.checkpoint
        let strict = report.strict
        Output.line("file       \(report.path)  (\(checkpoint.manifest.map { "format v\($0.formatVersion)" } ?? "plain export, no manifest"), \(checkpoint.stateDict.count) tensors, \(Output.bytes(checkpoint.stateDict.byteCount)))")
        for note in checkpoint.layoutNotes { Output.line("layout     \(note)") }
        if let resolved = report.resolved {
            Output.line("model      \(resolved.label)  [\(resolved.source.rawValue)]")
        }
        if let error = report.resolutionError {
            Output.line("model      FAILED: \(error)")
        }
        if report.resolved != nil {
            let expected = report.resolved!.model.stateDict().count
            let problems = strict.missingKeys.count + strict.unexpectedKeys.count + strict.shapeMismatches.count
            Output.line("keys       \(problems == 0 ? "ok: \(expected) keys and shapes match" : "FAILED")")
            Output.line("dtypes     \(strict.dtypeProblems.isEmpty ? "ok" : "FAILED")\(strict.convertedKeys.isEmpty ? "" : " (\(strict.convertedKeys.count) converted to the model's dtype)")")
        }
        let listed = checkpoint.manifest?.tensors.isEmpty == false
        Output.line("checksums  \(!listed ? "none in the file" : strict.checksumMismatches.isEmpty ? "ok: \(strict.verifiedChecksums) verified" : "FAILED")")
        Output.line("finite     \(strict.nonFinite.isEmpty ? "ok" : "FAILED")")
        if !strict.isClean { Output.line(strict.description) }
        if report.references.isEmpty {
            Output.line("forward    no reference vectors (add __tests__ or pass --input/--expect)")
        }
        for result in report.references {
            if let error = result.error {
                Output.line("forward    \(result.name): FAILED: \(error)")
            } else {
                Output.line("forward    \(result.name): max abs err \(Output.scientific(result.maxAbsoluteError)), rel err \(Output.scientific(result.relativeError)) (atol \(result.absoluteTolerance), rtol \(result.relativeTolerance)) \(result.passed ? "ok" : "FAILED")")
            }
        }
        Output.line(report.passed ? "PASS" : "FAIL")
    }

    static func json(_ report: VerificationReport) -> JSONValue {
        let strict = report.strict
        var fields: [String: JSONValue] = [
            "path": .string(report.path),
            "passed": .bool(report.passed),
            "layout": .array(report.checkpoint.layoutNotes.map(JSONValue.string)),
            "missing_keys": .array(strict.missingKeys.map(JSONValue.string)),
            "unexpected_keys": .array(strict.unexpectedKeys.map(JSONValue.string)),
            "shape_mismatches": .array(strict.shapeMismatches.map { .object(["key": .string($0.key), "expected": .array($0.expected.map { .int(Int64($0)) }), "found": .array($0.found.map { .int(Int64($0)) })]) }),
            "dtype_problems": .array(strict.dtypeProblems.map { .object(["key": .string($0.key), "expected": .string($0.expected.rawValue), "found": .string($0.found.rawValue)]) }),
            "converted": .array(strict.convertedKeys.map { .object(["key": .string($0.key), "from": .string($0.found.rawValue), "to": .string($0.expected.rawValue)]) }),
            "non_finite": .array(strict.nonFinite.map { .object(["key": .string($0.key), "count": .int(Int64($0.count))]) }),
            "checksum_mismatches": .array(strict.checksumMismatches.map { .object(["key": .string($0.key), "reason": .string($0.reason)]) }),
            "checksums_verified": .int(Int64(strict.verifiedChecksums)),
            "offending_keys": .array(report.offendingKeys.map(JSONValue.string)),
            "forward": .array(report.references.map { result in
                var entry: [String: JSONValue] = [
                    "name": .string(result.name), "passed": .bool(result.passed),
                    "atol": .double(result.absoluteTolerance), "rtol": .double(result.relativeTolerance),
                ]
                if result.maxAbsoluteError.isFinite { entry["max_abs_error"] = .double(result.maxAbsoluteError) }
                if result.relativeError.isFinite { entry["rel_error"] = .double(result.relativeError) }
                if let error = result.error { entry["error"] = .string(error) }
                return .object(entry)
            }),
        ]
        if let resolved = report.resolved {
            fields["model"] = .string(resolved.label)
            fields["model_source"] = .string(resolved.source.rawValue)
            if let architecture = resolved.architecture { fields["arch"] = .string(architecture.name) }
        }
        if let error = report.resolutionError { fields["model_error"] = .string(error) }
        return .object(fields)
    }
}
