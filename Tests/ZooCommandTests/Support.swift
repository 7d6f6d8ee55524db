import Foundation
import TestSupport
import Testing
import ZooCLI

/// The wrong, odd and self-describing files the command is tried on.
let fixtures = Fixtures("ModelZooTests")

func fixture(_ name: String) -> String { fixtures.path(name) }

/// Runs the command tree in this process, as the `zoo` binary would run it in the repository
/// root, with its output captured; untrusted files are still read in child processes (the built
/// `zoo` binary serves them). Exit codes, signals and containment are tried on the binary itself
/// with ``zooProcess(_:sourceLocation:)``.
func zoo(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
    try runZoo(arguments, sourceLocation: sourceLocation)
}

func runZoo(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
    try requireBuiltZoo(sourceLocation: sourceLocation)
    try #require(
        FileManager.default.currentDirectoryPath == repositoryRoot.path || runsInRepositoryRoot,
        "the tests run in the repository root", sourceLocation: sourceLocation)
    let result = ZooCommand.run(arguments, readerExecutable: zooExecutable)
    return ProcessResult(status: result.status, stdout: result.standardOutput, stderr: result.standardError)
}

/// Runs the real `zoo` binary in the repository root, as users' scripts do.
func zooProcess(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
    try zooProcess(arguments, sourceLocation: sourceLocation)
}

func zooProcess(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
    try requireBuiltZoo(sourceLocation: sourceLocation)
    return try runProcess(zooExecutable, arguments)
}

private func requireBuiltZoo(sourceLocation: SourceLocation) throws {
    try #require(
        FileManager.default.isExecutableFile(atPath: zooExecutable.path),
        "zoo is not built at \(zooExecutable.path); run swift build first", sourceLocation: sourceLocation)
}

/// Relative paths in the tests (`Zoo/simplecnn.h5`) are the repository's, as in a user's shell there.
private let runsInRepositoryRoot = FileManager.default.changeCurrentDirectoryPath(repositoryRoot.path)
