import Checkpoint
import Foundation
import Testing

struct CompressedFilesTests {
    @Test func filterWithoutADecoderIsNamed() {
        let path = fixtures.folder.appendingPathComponent("lzf.h5").path
        let error = #expect(throws: CheckpointError.self) { try CheckpointReader.read(path) }
        #expect(error?.description.contains("'lzf'") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("/fc.weight") == true)
    }
}
