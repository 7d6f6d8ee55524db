import Checkpoint
import Foundation
import JSON
import Tensor
import TestSupport
import Testing

/// The `zoo` command as users' scripts see it: exit codes, named keys, files written.
@Suite("CommandLine")
struct CommandLineTests {
    /// Wrong files: the exit code, and what the output must name.
    static let wrongFiles: [(file: String, status: Int32, names: String)] = [
        ("bad_missing_key.h5", 1, "decoder.3.bias"),
        ("bad_extra_key.h5", 1, "decoder.5.weight"),
        ("bad_wrong_shape.h5", 1, "encoder.1.running_mean"),
        ("bad_changed_weight.h5", 1, "encoder.0.weight"),
        ("bad_nan.h5", 1, "decoder.0.weight"),
        ("bad_inf_plain.h5", 1, "encoder.1.weight"),
        ("bad_truncated.h5", 2, "truncated"),
        ("bad_empty.h5", 2, "empty"),
        ("bad_lfs_pointer.h5", 2, "Git LFS"),
        ("bad_random.h5", 2, "not HDF5, torch.save or safetensors"),
        // Found by fuzzing: one flipped byte gives a dimension of 5.9e18 elements.
        ("bad_corrupt_extent.h5", 2, "larger than this machine's memory"),
        // Found by fuzzing: libhdf5 1.10.8 itself faults on these (a newer HDF5 may report an
        // error instead); either way zoo must exit 2 and name the file.
        ("bad_hdf5_fault_object_header.h5", 2, "bad_hdf5_fault_object_header.h5"),
        ("bad_hdf5_fault_global_heap.h5", 2, "bad_hdf5_fault_global_heap.h5"),
    ]

    @Test(arguments: wrongFiles.map(\.file))
    func wrongFileGetsItsExitCodeAndNamesTheProblem(file: String) throws {
        let (_, status, names) = try #require(Self.wrongFiles.first { $0.file == file })
        let result = try zoo("verify", fixture(file))
        #expect(result.status == status, "\(file): \(result.all)")
        #expect(result.stderr.hasPrefix("error: "), "\(file): errors start on stderr with one clear line")
        #expect(result.all.contains(names), "\(file) output should name \(names): \(result.all)")
    }

    @Test func verifyPassesOnTheZooAndWithAnNpyPair() throws {
        for file in zooCheckpoints() {
            let result = try zoo("verify", "Zoo/\(file)")
            #expect(result.status == 0, "\(file): \(result.all)")
            #expect(result.stdout.contains("PASS"))
        }
        let pair = try zoo(
            "verify", fixture("simplecnn_float16.h5"), "--input", fixture("simplecnn_float16.input.npy"), "--expect",
            fixture("simplecnn_float16.expect.npy"), "--json")
        #expect(pair.status == 0, "\(pair.all)")
        #expect(pair.stdout.contains("\"passed\" : true"))
    }

    @Test(arguments: fixtures.names(prefix: "seq_"))
    func selfDescribingFileVerifiesWithNoSwiftCodeForIt(file: String) throws {
        let result = try zoo("verify", fixture(file))
        #expect(result.status == 0, "\(result.all)")
        #expect(result.stdout.contains("[manifest model_config]"))
    }

    @Test func verifyManyFilesExitsWithTheWorstCode() throws {
        let checkpoints = zooCheckpoints().map { "Zoo/\($0)" }
        let all = try runZoo(["verify"] + checkpoints)
        #expect(all.status == 0, "\(all.all)")
        #expect(all.stdout.components(separatedBy: "\nPASS").count - 1 == checkpoints.count)
        let oneFails = try runZoo(["verify"] + checkpoints + [fixture("bad_nan.h5")])
        #expect(oneFails.status == 1)
        #expect(oneFails.stderr.contains("decoder.0.weight"))
        let oneUnreadable = try runZoo(["verify"] + [fixture("bad_empty.h5")] + checkpoints + [fixture("bad_nan.h5")])
        #expect(oneUnreadable.status == 2)
        #expect(oneUnreadable.stdout.components(separatedBy: "\nPASS").count - 1 == checkpoints.count, "the other files are still checked")
        let json = try runZoo(["verify"] + checkpoints + ["--json"])
        let parsed = try JSONValue.parse(json.stdout)
        #expect(parsed.arrayValue?.count == checkpoints.count)
        #expect(try runZoo(["verify"] + checkpoints + ["--input", "x.npy", "--expect", "y.npy"]).status == 2)
    }

    @Test func tighterToleranceThanTheErrorFails() throws {
        let result = try zoo(
            "verify", fixture("simplecnn5_nested.h5"), "--input", fixture("simplecnn5_nested.input.npy"), "--expect",
            fixture("simplecnn5_nested.expect.npy"), "--atol", "0", "--rtol", "1e-12")
        #expect(result.status == 1, "\(result.all)")
    }

    @Test func usageErrorsExitWithTwo() throws {
        #expect(try zoo("verify").status == 2)
        #expect(try zoo("verify", "Zoo/simplecnn.h5", "--input", "x.npy").status == 2)
        #expect(try zoo("verify", "Zoo/simplecnn.h5", "--arch", "vgg16").status == 2)
        #expect(try zoo("export", "simplecnn", "--set", "num_classes", "--output", "/tmp/x.h5").status == 2)
        #expect(try zoo("frobnicate").status == 2)
    }

    @Test func wrongArchOverrideFailsWithTheDifferences() throws {
        let result = try zoo("verify", "Zoo/simplecnn.h5", "--arch", "graycnn")
        #expect(result.status == 1)
        #expect(result.stdout.contains("size mismatch for conv1.weight"))
    }

    @Test func runMatchesPyTorchOutput() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("y.npy").path
        let result = try zoo(
            "run", fixture("encdec_trained_flat.h5"), "--input", fixture("encdec_trained_flat.input.npy"), "--output", output)
        #expect(result.status == 0, "\(result.all)")
        let actual = try NumPyFile.read(output)
        let expected = try NumPyFile.read(fixture("encdec_trained_flat.expect.npy"))
        #expect(actual.shape == expected.shape)
        let worst = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-5)
    }

    @Test func importWritesCanonicalV1ThatVerifies() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("imported.h5").path
        let result = try zoo("import", fixture("graycnn_wrapper.h5"), "--output", output)
        #expect(result.status == 0, "\(result.all)")
        let imported = try CheckpointReader.read(output)
        #expect(imported.manifest?.arch == "graycnn")
        #expect(imported.manifest?.archArgs["num_classes"] == .int(3))
        #expect(imported.manifest?.tensors.count == imported.stateDict.count)
        #expect(imported.layoutNotes.isEmpty, "canonical files need no normalising: \(imported.layoutNotes)")
        #expect(try zoo("verify", output).status == 0)
        #expect(try zoo("import", fixture("bad_nan.h5"), "--output", output + ".bad").status == 1)
        #expect(!FileManager.default.fileExists(atPath: output + ".bad"))
    }

    @Test func exportThenVerifyRunDiff() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = folder.appendingPathComponent("a.h5").path
        let b = folder.appendingPathComponent("b.h5").path
        #expect(try zoo("export", "encdec", "--seed", "3", "--set", "base=8", "--output", a).status == 0)
        #expect(try zoo("export", "encdec", "--seed", "3", "--set", "base=8", "--output", b).status == 0)
        #expect(try zoo("verify", a).status == 0)
        let same = try zoo("diff", a, b)
        #expect(same.status == 0, "\(same.all)")
        #expect(try zoo("export", "encdec", "--seed", "4", "--set", "base=8", "--output", b).status == 0)
        let different = try zoo("diff", a, b, "--json")
        #expect(different.status == 1)
        #expect(different.stdout.contains("max_abs_diff"))
        let shape = try zoo("diff", a, "Zoo/encdec.h5")
        #expect(shape.status == 1)
        #expect(shape.stdout.contains("[8, 3, 4, 4] -> [32, 3, 4, 4]"))
    }

    @Test func exportInitialisesLikePyTorch() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("s.h5").path
        #expect(try zoo("export", "simplecnn", "--seed", "1", "--set", "num_classes=4", "--output", path).status == 0)
        let stateDict = try CheckpointReader.read(path).stateDict
        let fc2 = try #require(stateDict["fc2.weight"])
        #expect(fc2.shape == [4, 128])
        // kaiming_uniform_(a=sqrt(5)) on Linear(128, 4): U(-1/sqrt(128), 1/sqrt(128)).
        let bound = 1 / Float(128).squareRoot()
        #expect(fc2.scalars.allSatisfy { abs($0) <= bound })
        #expect((fc2.scalars.map(abs).max() ?? 0) > bound * 0.9)
        let edge = folder.appendingPathComponent("e.h5").path
        #expect(try zoo("export", "edgedetect", "--output", edge).status == 0)
        let kernel = try #require(try CheckpointReader.read(edge).stateDict["conv.weight"]).scalars
        #expect(Array(kernel[0..<25]) == (0..<25).map { $0 == 12 ? 24 : -1 })
    }

    @Test func listAndInspectDescribeTheZoo() throws {
        let list = try zoo("list", "--json")
        #expect(list.status == 0)
        for file in zooCheckpoints() { #expect(list.stdout.contains(file)) }
        #expect(list.stdout.contains("\"resnet18\""))
        let table = try zoo("list")
        #expect(table.stdout.contains("simplecnn(num_classes=10)"))
        let inspect = try zoo("inspect", "Zoo/encdec.h5")
        #expect(inspect.status == 0)
        #expect(inspect.stdout.contains("encoder.1.num_batches_tracked"))
        #expect(inspect.stdout.contains("verified"))
        #expect(try zoo("inspect", fixture("bad_changed_weight.h5")).stdout.contains("MISMATCH"))
        #expect(try zoo("inspect", fixture("bad_empty.h5")).status == 2)
    }
}

/// Exit codes hold for folders as for files, and an empty state_dict that describes its model
/// is a checkpoint like any other.
@Suite("CommandLineEdges")
struct CommandLineEdgeTests {
    @Test(arguments: ["/nonexistent/zoo", "Zoo/simplecnn.h5"])
    func listOfAMissingOrNonFolderExitsWithTwo(folder: String) throws {
        let result = try zoo("list", "--zoo", folder)
        #expect(result.status == 2, "\(result.all)")
        #expect(result.stderr.hasPrefix("error: cannot list \(folder): "))
        #expect(!result.stdout.contains("(none)"))
    }

    @Test func parameterlessModelVerifiesRunsAndImports() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = fixture("seq_parameterless.h5")
        #expect(try zoo("verify", file).status == 0)
        let input = folder.appendingPathComponent("x.npy").path
        try NumPyFile.write(Tensor(shape: [1, 3, 4, 6], scalars: (0..<72).map { Float($0) / 72 }), to: input)
        let output = folder.appendingPathComponent("y.npy").path
        let run = try zoo("run", file, "--input", input, "--output", output)
        #expect(run.status == 0, "\(run.all)")
        #expect(try NumPyFile.read(output).shape == [1, 3, 4, 6])
        let imported = folder.appendingPathComponent("imported.h5").path
        let result = try zoo("import", file, "--output", imported)
        #expect(result.status == 0, "\(result.all)")
        #expect(try zoo("verify", imported).status == 0)
    }

    @Test func unrecognisedFileListsItsCandidatesInJSON() throws {
        let result = try zoo("verify", fixture("bad_extra_key.h5"), "--json", "--arch", "encdec")
        #expect(result.status == 1)
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var stateDict = try CheckpointReader.read("Zoo/net.h5").stateDict
        stateDict["fc.extra"] = Tensor(zeros: [2])
        let path = folder.appendingPathComponent("odd.h5").path
        try CheckpointWriter.write(stateDict, to: path)
        let odd = try zoo("verify", path, "--json")
        #expect(odd.status == 1)
        let candidates = try #require(try JSONValue.parse(odd.stdout)["candidates"]?.arrayValue)
        #expect(candidates.first?["arch"] == .string("net"))
        #expect(candidates.first?["unexpected_keys"] == .array([.string("fc.extra")]))
    }
}
