import Checkpoint
import Foundation
import Tensor
import TestSupport
import Testing

/// Tensors of 2 MiB or more are read by two threads at once, each half released behind it; a
/// contained read's hand-back file is cut away as it is read. Every byte must land where it
/// belongs, at any size and at any offset in the file (small tensors between the large ones put
/// them off page boundaries), in process and through the reading child.
struct LargeTensorReadsTests {
    /// Float counts: under the threshold, exactly it, odd sizes over it, and several pages' worth.
    static let sizes = [1, 524_287, 524_288, 524_289, 1_000_003, 2_359_297]

    /// Each large tensor follows a 3-byte one, so that no large tensor starts on a page; values
    /// that differ from neighbour to neighbour and from tensor to tensor.
    static func stateDict() throws -> StateDict {
        var entries: [(String, Tensor)] = []
        for (index, count) in sizes.enumerated() {
            entries.append(("pad\(index)", try Tensor(shape: [3], storage: .int8([1, -2, 3]))))
            let scalars = (0..<count).map { Float(($0 &* 2_654_435_761 &+ index) % 1_000_003) - 500_000 }
            entries.append(("large\(index)", Tensor(shape: [count], scalars: scalars)))
        }
        return StateDict(entries)
    }

    @Test(arguments: ["safetensors", "h5"])
    func everyValueOfLargeTensorsReadsBack(suffix: String) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("large.\(suffix)").path
        let written = try Self.stateDict()
        try CheckpointWriter.write(written, manifest: Manifest(arch: "custom"), to: path, format: CheckpointWriter.format(forPath: path))
        for (how, read) in [
            ("in process", try CheckpointReader.read(path)),
            ("contained", try ContainedReading.read(path, timeout: 60, reader: zooExecutable)),
        ] {
            for (key, tensor) in written {
                let back = try #require(read.stateDict[key], "\(how): \(key) is missing")
                #expect(back == tensor, "\(how): \(key) of \(tensor.shape) differs")
            }
        }
    }
}
