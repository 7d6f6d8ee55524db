import Foundation
import TestSupport
import Testing

/// Most command tests run the command tree in-process; these run the same command lines through
/// the `zoo` binary as well, so that what a test sees in-process is what a user's script sees.
@Suite("InProcessAgreement")
struct InProcessAgreementTests {
    static let commandLines: [[String]] = [
        ["--version"],
        ["verify", "Zoo/simplecnn.h5"],
        ["verify", "Zoo/simplecnn.h5", "Zoo/net.h5", "--json"],
        ["verify", "Zoo/simplecnn.h5", "Zoo/no-such-file.h5"],
        ["verify"],
        ["run", "Zoo/digits.h5", "--image", "Docs/digit.png", "--top", "3"],
        ["inspect", "Zoo/net.h5", "--json"],
        ["export", "nosuchmodel", "--output", "/dev/null"],
        ["list", "--zoo", "Zoo/no-such-folder"],
        ["bench", "forward", "simplecnn", "--batch", "0"],
    ]

    @Test(arguments: commandLines)
    func theBinaryAndTheLibraryAgree(arguments: [String]) throws {
        let inProcess = try runZoo(arguments)
        let binary = try runProcess(zooExecutable, arguments)
        #expect(inProcess.status == binary.status, "\(arguments): \(inProcess.all) | \(binary.all)")
        #expect(inProcess.stdout == binary.stdout, "\(arguments)")
        #expect(inProcess.stderr == binary.stderr, "\(arguments)")
    }
}
