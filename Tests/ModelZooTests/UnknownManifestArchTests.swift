import Checkpoint
import ModelZoo
import TestSupport
import Testing

/// A manifest `arch` zoo does not know is passed over for recognition, as before, and said.
@Suite("Unknown manifest arch")
struct UnknownManifestArchTests {
    @Test func anArchTheRegistryLacksIsANoteNotASilence() throws {
        var checkpoint = try CheckpointReader.read(zooFolder.appendingPathComponent("simplecnn.h5").path)
        checkpoint.manifest?.arch = "nosuchnet"
        let resolved = try ModelResolver.resolve(checkpoint)
        #expect(resolved.source == .recognised)
        #expect(resolved.architecture?.name == "simplecnn")
        #expect(resolved.notes.count == 1)
        #expect(resolved.notes.first?.contains("'nosuchnet'") == true)
    }

    @Test func aKnownArchLeavesNoNote() throws {
        let checkpoint = try CheckpointReader.read(zooFolder.appendingPathComponent("simplecnn.h5").path)
        let resolved = try ModelResolver.resolve(checkpoint)
        #expect(resolved.source == .manifestArch)
        #expect(resolved.notes.isEmpty)
    }
}
