/// Why a contained child gave no answer: the one typed failure behind contained reading and
/// contained decoding. Each caller's error (`CheckpointError`, `PictureError`) carries it with the
/// file's path and says it in its own words; nothing matches message text.
public enum ContainmentFailure: Error, Sendable, Equatable {
    /// The child process could not be started.
    case cannotStart(executable: String, reason: String)
    /// A signal ended the child (a fault inside the code it ran).
    case crashed(signal: Int32)
    /// The child ran past `seconds` and was killed.
    case timedOut(seconds: Double)
    /// The child refused the file; `message` is its one line on stderr (empty when it wrote none).
    case failed(status: Int32, message: String)
    /// The child exited cleanly, but its answer is missing or does not decode.
    case incompleteAnswer
    /// The child's argument is not a request (only a caller other than zoo's own can cause it).
    case malformedRequest(String)
    /// The child could not write its answer.
    case cannotWriteAnswer(path: String, reason: String)

    /// How `outcome` ended as a failure; nil when the child exited with status 0.
    public init?(_ outcome: ChildOutcome, timeout: Double) {
        switch outcome {
        case .exited(0, _): return nil
        case .exited(let status, let message): self = .failed(status: status, message: message)
        case .crashed(let signal): self = .crashed(signal: signal)
        case .timedOut: self = .timedOut(seconds: timeout)
        }
    }
}
