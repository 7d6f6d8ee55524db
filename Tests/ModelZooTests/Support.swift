import Foundation
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
let zooFolder = repositoryRoot.appendingPathComponent("Zoo")

func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

func zooCheckpoints() -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: zooFolder.path)) ?? []).filter { $0.hasSuffix(".h5") }.sorted()
}

func fixtureNames(prefix: String, suffix: String = ".h5") -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? [])
        .filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }.sorted()
}

func makeTemporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var all: String { stdout + stderr }
}

/// The `zoo` executable built beside the test bundle (`swift build --build-tests` builds both).
let zooExecutable: URL = {
    let folder = Bundle.main.executableURL?.deletingLastPathComponent()
        ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return folder.appendingPathComponent("zoo")
}()

/// Runs the real `zoo` binary, as users' scripts do.
func zoo(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
    try runZoo(arguments, sourceLocation: sourceLocation)
}

func runZoo(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
    try #require(FileManager.default.isExecutableFile(atPath: zooExecutable.path), "zoo is not built at \(zooExecutable.path); run swift build first", sourceLocation: sourceLocation)
    let process = Process()
    process.executableURL = zooExecutable
    process.arguments = arguments
    process.currentDirectoryURL = repositoryRoot
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
}
