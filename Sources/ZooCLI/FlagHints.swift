import Checkpoint
import ModelZoo

/// The command line's hints on the libraries' values: the libraries never name a flag, so
/// where an error or a report reaches the user, the flag that changes the outcome is added here.
enum FlagHints {
    /// `error` as `zoo` says it: the library's description, with the flag that helps when there is one.
    static func message(_ error: any Error) -> String {
        switch error {
        case CheckpointError.contained(_, .readCheckpoint, .timedOut), CheckpointError.contained(_, .inspectCheckpoint, .timedOut),
            CheckpointError.contained(_, .checkCheckpoint, .timedOut):
            return "\(error) (--timeout changes the limit)"
        case SignatureError.notAPublicKeyName(let path):
            return "\(path): looks like a private key (no .pub); --trust takes public keys, e.g. \(path).pub"
        case ModelZooError.ambiguous: return "\(error); choose one with --arch"
        case ModelZooError.unrecognised: return "\(error)\nname one with --arch, or export with a model_config"
        case PictureRunError.notPictureShaped(let shape):
            return "--output-image needs a picture-shaped output (N, C, H, W); the model gives \(shape)"
        default: return "\(error)"
        }
    }

    /// Which preprocess ran, with the flag that gives one when zoo knew none.
    static func preprocessSummary(_ chosen: ChosenPreprocess) -> String {
        chosen.origin == .standard ? chosen.summary + " (give one with --preprocess)" : chosen.summary
    }

    /// How the model was chosen, as `zoo verify` prints it.
    static func label(_ source: ResolvedModel.Source) -> String {
        source == .caller ? "--arch" : source.rawValue
    }

    /// `report` with its printed lines in the command line's words.
    static func apply(to report: VerificationReport) -> VerificationReport {
        var report = report
        if let failure = report.resolutionFailure { report.resolutionError = message(failure) }
        report.modelSource = report.resolved.map { label($0.source) }
        if case .unsigned = report.signature.state, report.signature.trustRequired {
            report.signatureSummary = "FAILED: unsigned, and --trust asks for a signature"
        }
        for index in report.references.indices {
            if case .invalidTolerance(.file, _)? = report.references[index].failure {
                report.references[index].error = (report.references[index].error ?? "") + " (--default-tolerance ignores the file's)"
            }
        }
        return report
    }

    /// One file's outcome among several, its report in the command line's words.
    static func apply(to outcome: VerificationOutcome) -> VerificationOutcome {
        guard case .report(let report) = outcome else { return outcome }
        return .report(apply(to: report))
    }

    /// `report` with its notes in the command line's words.
    static func apply(to report: ConversionReport) -> ConversionReport {
        var report = report
        for index in report.notes.indices where report.notes[index].kind == .unrecognisedModel {
            report.notes[index].text = "no model recognised: converted without arch (verify will need --arch or a model_config)"
        }
        return report
    }
}
