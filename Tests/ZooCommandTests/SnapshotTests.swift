import Foundation
import JSON
import TestSupport
import Testing

/// Exact snapshots of what scripts parse and people read: every `--help`, and each command's
/// `--json` on the Zoo. A change to any of them is a change to the contract and shows up here;
/// regenerate deliberately with `ZOO_UPDATE_SNAPSHOTS=1 swift test --filter Snapshot`.
@Suite("Snapshot")
struct SnapshotTests {
    static let folder = repositoryRoot.appendingPathComponent("Tests/ZooCommandTests/Snapshots")
    static let updating = ProcessInfo.processInfo.environment["ZOO_UPDATE_SNAPSHOTS"] == "1"

    /// Each snapshot: its file name and the command that makes it.
    static let cases: [(name: String, arguments: [String])] =
        [("help.txt", ["--help"])]
        + ["list", "inspect", "verify", "run", "export", "import", "diff", "convert", "keygen", "sign", "bench", "train"].map {
            ("help-\($0).txt", [$0, "--help"])
        }
        + [("list.json", ["list", "--json"]), ("diff.json", ["diff", "Zoo/simplecnn.h5", "Zoo/graycnn.h5", "--json"])]
        + zooCheckpoints().flatMap { file in
            let name = String(file.dropLast(3))
            return [
                ("inspect-\(name).json", ["inspect", "Zoo/\(file)", "--json"]),
                ("verify-\(name).json", ["verify", "Zoo/\(file)", "--json"]),
            ]
        }

    @Test(arguments: cases.map(\.name))
    func outputMatchesItsSnapshot(name: String) throws {
        let arguments = try #require(Self.cases.first { $0.name == name }).arguments
        let result = try runZoo(arguments)
        #expect(result.status == (name == "diff.json" ? 1 : 0), "\(result.stderr)")
        let actual = Self.comparable(result.stdout, name: name)
        let path = Self.folder.appendingPathComponent(name)
        if Self.updating {
            try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
            try actual.write(to: path, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: path, encoding: .utf8)
        #expect(actual == expected, "zoo \(arguments.joined(separator: " ")) differs from Snapshots/\(name)")
        if name.hasSuffix(".json") { #expect(throws: Never.self) { try JSONValue.parse(result.stdout) } }
    }

    /// The forward errors of `verify` depend on the BLAS kernels this machine picks, in the last
    /// bits; they are replaced by a placeholder so that the rest is compared exactly.
    static func comparable(_ output: String, name: String) -> String {
        guard name.hasPrefix("verify-") else { return output }
        return output.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            for key in ["\"max_abs_error\" : ", "\"rel_error\" : "] {
                if let range = line.range(of: key) {
                    let rest = line[range.upperBound...]
                    return line[..<range.upperBound] + "<measured>" + (rest.hasSuffix(",") ? "," : "")
                }
            }
            return String(line)
        }.joined(separator: "\n")
    }
}
