import Checkpoint
import Foundation
import Pictures

/// The reader one fuzzing process drives, from `ZOO_FUZZ_READER` (libFuzzer owns the command line).
enum FuzzedReader: String, CaseIterable {
    case hdf5, torchZip = "torch-zip", torchLegacy = "torch-legacy", safetensors, pt2, npy, png, jpeg

    /// Reads the file as users' commands would, in this process; errors are the expected outcome
    /// for most inputs, a crash, hang or sanitizer report is a finding.
    func read(_ path: String) {
        switch self {
        case .hdf5: _ = try? CheckpointReader.read(path, as: .hdf5)
        case .torchZip: _ = try? CheckpointReader.read(path, as: .torchZip)
        case .torchLegacy: _ = try? CheckpointReader.read(path, as: .torchLegacy)
        case .safetensors: _ = try? CheckpointReader.read(path, as: .safetensors)
        case .pt2: _ = try? CheckpointReader.read(path, as: .pt2)
        case .npy: _ = try? NumPyFile.read(path)
        case .png, .jpeg: _ = try? PictureFile.read(path)
        }
    }
}

/// The readers take paths (they map files or hand them to libhdf5), so each input is written to
/// one scratch file per process, in memory-backed /dev/shm when there is one.
nonisolated(unsafe) private var scratchPath = ""
nonisolated(unsafe) private var reader = FuzzedReader.hdf5

@_cdecl("LLVMFuzzerInitialize")
public func initialise(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    let name = ProcessInfo.processInfo.environment["ZOO_FUZZ_READER"] ?? ""
    guard let chosen = FuzzedReader(rawValue: name) else {
        FileHandle.standardError.write(
            Data("set ZOO_FUZZ_READER to one of: \(FuzzedReader.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    reader = chosen
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    scratchPath = "\(folder)/zoo-fuzz-\(getpid())-\(name)"
    // libFuzzer ends a timed run with exit(): the scratch file goes with the process instead of
    // staying in /dev/shm's memory (1,276 of them, 74 MB, had piled up on one machine).
    atexit { unlink(scratchPath) }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let descriptor = open(scratchPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard descriptor >= 0 else { return 0 }
    var written = 0
    while written < size {
        let count = write(descriptor, data + written, size - written)
        if count <= 0 { break }
        written += count
    }
    close(descriptor)
    reader.read(scratchPath)
    return 0
}
