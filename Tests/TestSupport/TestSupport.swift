import Foundation
import Tensor

/// The repository's root folder, found from this file's place in it.
public let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The reference checkpoints that ship in `Zoo/`.
public let zooFolder = repositoryRoot.appendingPathComponent("Zoo")

/// The `.h5` files in `Zoo/`, sorted by name.
public func zooCheckpoints() -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: zooFolder.path)) ?? []).filter { $0.hasSuffix(".h5") }.sorted()
}

/// The committed fixtures of one test target, `Tests/<target>/Fixtures`.
public struct Fixtures: Sendable {
    public let folder: URL

    public init(_ target: String) {
        folder = repositoryRoot.appendingPathComponent("Tests").appendingPathComponent(target).appendingPathComponent("Fixtures")
    }

    /// The path of one fixture.
    public func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Fixture names with a prefix and suffix, sorted, so that parameterised tests name their files.
    public func names(prefix: String = "", suffix: String = ".h5") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }.sorted()
    }
}

/// The `zoo` executable built beside the test bundle (`swift build --build-tests` builds both).
public let zooExecutable: URL = {
    let folder =
        Bundle.main.executableURL?.deletingLastPathComponent()
        ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return folder.appendingPathComponent("zoo")
}()

/// A fresh, unique folder for one test; tests run in parallel.
public func makeTemporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

/// What a child process did.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var all: String { stdout + stderr }

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs `executable` with `arguments` in the repository root and collects its output. Output
/// goes through files, not pipes, so that a child writing much cannot block on a full pipe.
public func runProcess(_ executable: URL, _ arguments: [String], currentDirectory: URL = repositoryRoot) throws -> ProcessResult {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let outURL = folder.appendingPathComponent("stdout")
    let errURL = folder.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = currentDirectory
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    try process.run()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Runs `python3 -c script arguments...`.
public func runPythonScript(_ script: String, _ arguments: [String]) throws -> ProcessResult {
    try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script] + arguments)
}

/// Python (numpy, h5py, safetensors) defining `write(path, arrays)`: a dict of NumPy arrays as
/// an HDF5 file (h5py, one dataset per key) for a path ending `.h5`, else as safetensors. Put it
/// before a script that calls it.
public let pythonArrayWriter = """
    def write(path, arrays):
        if path.endswith(".h5"):
            import h5py
            with h5py.File(path, "w") as f:
                for key, value in arrays.items():
                    f.create_dataset(key, data=value)
        else:
            from safetensors.numpy import save_file
            save_file(arrays, path)

    """

/// A tensor of `shape` with values drawn uniformly from [-bound, bound] by `SeededGenerator(seed:)`:
/// the same seed gives the same values in every test.
public func seededTensor(_ shape: [Int], seed: UInt64, bound: Float = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor(shape: shape, scalars: generator.uniform(count: shape.reduce(1, *), bound: bound))
}
