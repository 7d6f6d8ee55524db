import Foundation
import TestSupport
import Testing

/// Every number a user can type into a flag, at its extremes: the answer is exit 0, 1 or 2 with
/// one clear line, never a signal, a Swift fatal error or a hang.
@Suite("ExtremeFlags")
struct ExtremeFlagsTests {
    static let values = ["0", "-1", "2147483648", "4611686018427387904"]

    /// Each command line with `{}` where the extreme number goes.
    static let commandLines: [[String]] = [
        ["bench", "forward", "simplecnn", "--batch", "{}", "--repeat", "1", "--warmup", "0"],
        ["bench", "forward", "resnet18", "--height", "{}", "--repeat", "1", "--warmup", "0"],
        ["bench", "forward", "encdec", "--width", "{}", "--repeat", "1", "--warmup", "0"],
        ["bench", "forward", "simplecnn", "--repeat", "{}", "--warmup", "0"],
        ["bench", "forward", "simplecnn", "--warmup", "{}", "--repeat", "1"],
        ["bench", "forward", "simplecnn", "--threads", "{}", "--repeat", "1", "--warmup", "0"],
        ["bench", "forward", "resnet18", "--batch", "4", "--repeat", "1", "--warmup", "0", "--max-memory", "{}"],
        ["bench", "load", "Zoo/net.h5", "--repeat", "{}"],
        ["run", "Zoo/digits.h5", "--image", "Docs/digit.png", "--top", "{}"],
        ["run", "Zoo/digits.h5", "--image", "Docs/digit.png", "--timeout", "{}"],
        ["run", "Zoo/digits.h5", "--image", "Docs/digit.png", "--max-memory", "{}"],
        ["verify", "Zoo/net.h5", "--timeout", "{}"],
        ["verify", "Zoo/net.h5", "--atol", "{}"],
        ["verify", "Zoo/net.h5", "--max-memory", "{}"],
        ["list", "--timeout", "{}"],
        ["inspect", "Zoo/net.h5", "--timeout", "{}"],
        ["export", "net", "--seed", "{}", "--output", "/dev/null/x.h5"],
        ["export", "simplecnn", "--set", "num_classes={}", "--output", "/dev/null/x.h5"],
        ["bench", "train", "simplecnn", "--batch", "{}", "--repeat", "1"],
        ["bench", "train", "simplecnn", "--repeat", "{}"],
        [
            "train", "Zoo/net.h5", "--output", "/dev/null/x.h5", "--inputs", "absent.npy", "--targets", "absent.npy", "--epochs", "{}",
            "--batch-size", "4",
        ],
        [
            "train", "Zoo/net.h5", "--output", "/dev/null/x.h5", "--inputs", "absent.npy", "--targets", "absent.npy", "--epochs", "1",
            "--batch-size", "{}",
        ],
        [
            "train", "Zoo/net.h5", "--output", "/dev/null/x.h5", "--inputs", "absent.npy", "--targets", "absent.npy", "--epochs", "1",
            "--batch-size", "4", "--steps", "{}",
        ],
        [
            "train", "Zoo/net.h5", "--output", "/dev/null/x.h5", "--inputs", "absent.npy", "--targets", "absent.npy", "--epochs", "1",
            "--batch-size", "4", "--seed", "{}",
        ],
        [
            "train", "Zoo/net.h5", "--output", "/dev/null/x.h5", "--inputs", "absent.npy", "--targets", "absent.npy", "--epochs", "1",
            "--batch-size", "4", "--scheduler", "step", "--step-size", "{}",
        ],
        [
            "train", "Zoo/net.h5", "--output", "/dev/null/x.h5", "--inputs", "absent.npy", "--targets", "absent.npy", "--epochs", "1",
            "--batch-size", "4", "--scheduler", "cosine", "--t-max", "{}",
        ],
    ]

    @Test(arguments: commandLines)
    func extremeNumbersAreAnsweredNeverCrashed(commandLine: [String]) throws {
        for value in Self.values {
            let arguments = commandLine.map { $0.replacingOccurrences(of: "{}", with: value) }
            let result = try zooProcess(arguments)
            #expect((0...2).contains(result.status), "\(arguments): exit \(result.status): \(result.stderr.prefix(300))")
            #expect(!result.stderr.contains("Fatal error"), "\(arguments): \(result.stderr.prefix(300))")
            if result.status == 2 { #expect(result.stderr.hasPrefix("error: "), "\(arguments): \(result.stderr.prefix(300))") }
        }
    }
}
