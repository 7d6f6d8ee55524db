import Checkpoint
import Foundation
import ModelZoo
import TestSupport
import Testing

/// Many checkpoints read and verified from several threads at once give what one thread gives.
/// Run it under ThreadSanitizer: `swift test --sanitize=thread --filter ConcurrentVerification`.
@Suite("ConcurrentVerification")
struct ConcurrentVerificationTests {
    @Test func verifyingTheZooFromManyTasksAgreesWithOneAtATime() async throws {
        let files = zooCheckpoints().map { zooFolder.appendingPathComponent($0).path }
        let sequential = try files.map { summary(Verifier.verify(try CheckpointReader.read($0))) }
        let concurrent = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for round in 0..<3 {
                for (index, file) in files.enumerated() {
                    group.addTask { (round * files.count + index, summary(Verifier.verify(try CheckpointReader.read(file)))) }
                }
            }
            var results: [(Int, String)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        #expect(concurrent == sequential + sequential + sequential)
        #expect(sequential.allSatisfy { $0.hasSuffix("passed") })
    }

    @Test func writingAndReadingFromManyTasksAtOnce() async throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try CheckpointReader.read(zooFolder.appendingPathComponent("net.h5").path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask {
                    let path = folder.appendingPathComponent("net-\(index).h5").path
                    try CheckpointWriter.write(source.stateDict, manifest: source.manifest ?? Manifest(), to: path)
                    #expect(try CheckpointReader.read(path).stateDict == source.stateDict)
                }
            }
            try await group.waitForAll()
        }
    }
}

private func summary(_ report: VerificationReport) -> String {
    let errors = report.references.map { String(format: "%.3e", $0.maxAbsoluteError) }.joined(separator: ",")
    return "\(report.path) \(report.strict.integrity.verifiedChecksums) \(errors) \(report.passed ? "passed" : "failed")"
}
