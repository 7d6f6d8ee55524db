import Foundation
import TestSupport
import Testing

/// The wrong, odd and self-describing files the command is tried on.
let fixtures = Fixtures("ModelZooTests")

func fixture(_ name: String) -> String { fixtures.path(name) }

/// The `zoo` executable built beside the test bundle (`swift build --build-tests` builds both).
let zooExecutable: URL = {
    let folder =
        Bundle.main.executableURL?.deletingLastPathComponent()
        ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return folder.appendingPathComponent("zoo")
}()

/// Runs the real `zoo` binary in the repository root, as users' scripts do.
func zoo(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
    try runZoo(arguments, sourceLocation: sourceLocation)
}

func runZoo(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
    try #require(
        FileManager.default.isExecutableFile(atPath: zooExecutable.path),
        "zoo is not built at \(zooExecutable.path); run swift build first", sourceLocation: sourceLocation)
    return try runProcess(zooExecutable, arguments)
}
