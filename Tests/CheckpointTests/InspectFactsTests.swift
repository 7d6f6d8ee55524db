import Checkpoint
import Foundation
import TestSupport
import Testing

/// `zoo inspect` reads each tensor, sums it up and lets it go (`CheckpointReader.inspect`), in the
/// reading child (`ContainedReading.inspect`): its report must be the one a full read gives, in
/// every container, with every normalisation (a DataParallel prefix, filled BatchNorm counters, a
/// wrapper group, widened dtypes) and checksums against a manifest.
@Suite("Inspect facts")
struct InspectFactsTests {
    static let files = [
        "Zoo/digits.h5", "Zoo/simplecnn.h5",
    ]
    static let fixtureFiles = [
        "interop/dataparallel.h5", "interop/old_batchnorm.h5", "interop/wrapper_model.h5", "interop/nested.h5",
        "interop/bfloat16.h5", "interop/dtypes.h5", "interop/manifest_ascii.h5", "torch/dataparallel.pth", "torch/old_batchnorm.bin",
        "torch/views_legacy.pt", "torch/views_zip.pt", "torch/dtypes_zip.pt", "torch/dtypes.safetensors", "torch/big_endian_zip.pt",
        "torch/wrapper.pt", "pt2/encdec.pt2", "pt2/two_heads.pt2",
    ]

    static func json(_ report: InspectReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    static func path(_ file: String) -> String { file.hasPrefix("Zoo/") ? file : fixtures.path(file) }

    @Test(arguments: files + fixtureFiles)
    func theFactsOnlyReportIsTheFullReadsReport(file: String) throws {
        let path = Self.path(file)
        let full = InspectReport(try CheckpointReader.read(path))
        #expect(try Self.json(CheckpointReader.inspect(path)) == Self.json(full))
    }

    @Test(arguments: ["Zoo/digits.h5", "interop/old_batchnorm.h5", "torch/dataparallel.pth", "torch/dtypes.safetensors", "pt2/encdec.pt2"])
    func theReadingChildHandsBackTheSameReport(file: String) throws {
        let path = Self.path(file)
        let contained = try ContainedReading.inspect(path, timeout: 60, reader: zooExecutable)
        #expect(try Self.json(contained) == Self.json(InspectReport(try CheckpointReader.read(path))))
        #expect(contained.manifest == (try CheckpointReader.read(path)).manifest)
    }

    /// The check `zoo bench load` makes first reads every tensor in the child and hands back their
    /// count alone.
    @Test(arguments: ["Zoo/digits.h5", "torch/dataparallel.pth", "torch/views_legacy.pt", "torch/dtypes.safetensors", "pt2/encdec.pt2"])
    func theReadingChildsCheckCountsTheTensors(file: String) throws {
        let path = Self.path(file)
        #expect(try ContainedReading.check(path, timeout: 60, reader: zooExecutable) == CheckpointReader.read(path).stateDict.count)
    }

    /// A file a read refuses is refused the same way, with the same words.
    @Test(arguments: [
        "torch/truncated_zip.pt", "torch/truncated_legacy.pt", "torch/crc_mismatch_zip.pt", "torch/exploit_zip.pt",
        "torch/overlap.safetensors", "torch/past_end.safetensors", "pt2/truncated.pt2", "pt2/pickled_weight.pt2",
    ])
    func aFileAReadRefusesIsRefusedAlike(file: String) throws {
        let path = fixtures.path(file)
        let read = #expect(throws: CheckpointError.self) { try CheckpointReader.read(path) }
        let inspected = #expect(throws: CheckpointError.self) { try CheckpointReader.inspect(path) }
        #expect(inspected?.description == read?.description)
        let contained = #expect(throws: CheckpointError.self) { try ContainedReading.inspect(path, timeout: 60, reader: zooExecutable) }
        #expect(contained?.description.contains(path) == true)
        let checked = #expect(throws: CheckpointError.self) { try ContainedReading.check(path, timeout: 60, reader: zooExecutable) }
        #expect(checked?.description == contained?.description)
    }
}
