import Checkpoint
import Foundation
import HDF5
import JSON
import Pictures
import Tensor
import TestSupport
import Testing

/// Pictures decoded and transformed as PIL and torchvision do it, against what they produced
/// (Tools/make_picture_fixtures.py): decoding exactly for PNG, within one 8-bit level for JPEG
/// (libjpeg builds differ); every transform pipeline exactly on PNG pictures, within one level
/// (1/255 after ToTensor) on JPEG ones.
@Suite("PictureParity")
struct PictureParityTests {
    static let fixtures = Fixtures("PicturesTests")
    static let expected = fixtures.path("expected.h5")

    static let decodedNames: [String] = {
        (try? HDF5File.openReadOnly(expected).rootGroup().openGroup("decoded").members().map(\.name)) ?? []
    }()
    static let caseNames: [String] = {
        (try? HDF5File.openReadOnly(expected).rootGroup().openGroup("cases").members().map(\.name)) ?? []
    }()

    @Test func fixturesArePresent() {
        #expect(Self.decodedNames.count >= 13)
        #expect(Self.caseNames.count >= 30)
    }

    @Test(arguments: decodedNames)
    func decodesAndConvertsAsPIL(name: String) throws {
        let group = try HDF5File.openReadOnly(Self.expected).rootGroup().openGroup("decoded").openGroup(name)
        let picture = try PictureFile.read(Self.fixtures.path(name))
        let tolerance: Float = name.hasSuffix(".jpg") ? 1 : 0
        for mode in [PictureMode.L, .RGB] {
            let expected = try group.openDataset(mode.rawValue).readTensor().scalars
            let converted = picture.converted(to: mode)
            #expect(converted.bytes.count == expected.count, "\(name) \(mode)")
            let worst = zip(converted.bytes, expected).map { abs(Float($0) - $1) }.max() ?? .infinity
            #expect(worst <= tolerance, "\(name) as \(mode): differs from PIL by \(worst) levels")
        }
    }

    @Test(arguments: caseNames)
    func transformsMatchTorchvision(name: String) throws {
        let dataset = try HDF5File.openReadOnly(Self.expected).rootGroup().openGroup("cases").openDataset(name)
        let expected = try dataset.readTensor()
        let preprocess = try Preprocess(json: try JSONValue.parse(try #require(try dataset.stringAttribute("preprocess"))))
        let picture = try PictureFile.read(Self.fixtures.path(try #require(try dataset.stringAttribute("picture"))))
        let actual = try preprocess.apply(picture)
        #expect(actual.shape == expected.shape, "\(name)")
        guard actual.shape == expected.shape else { return }
        let raw = name.hasSuffix(":raw_values")
        let normalised = name.contains("normalize")
        // One 8-bit level: 1/255 after ToTensor, 1 for raw values, 1/(255 std) after Normalize.
        let level: Float = raw ? 1 : (normalised ? 1 / (255 * 0.224) + 1e-5 : 1 / 255 + 1e-6)
        let worst = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        let tolerance: Float = name.contains(".jpg:") ? level : 0
        #expect(worst <= tolerance, "\(name): differs from torchvision by \(worst) (one level is \(level))")
    }

    @Test(arguments: [
        "bad_cmyk.jpg", "bad_truncated.jpg", "bad_truncated.png", "bad_not_a_picture.png", "bad_zero_width.png",
        "bad_absurd_size.png", "bad_empty.png",
    ])
    func badPictureIsRefusedWithOneLineNamingIt(name: String) throws {
        let refused = try JSONValue.parse(try #require(try HDF5File.openReadOnly(Self.expected).rootGroup().stringAttribute("refused")))
        let words = try #require(refused[name]?.stringValue)
        let path = Self.fixtures.path(name)
        let error = #expect(throws: PictureError.self) { try PictureFile.read(path) }
        #expect(error?.description.hasPrefix(path) == true)
        #expect(error?.description.contains(words) == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("\n") == false)
    }

    @Test func pngWrittenByZooReadsBackExactly() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = try PictureFile.read(Self.fixtures.path("rgb_portrait.png"))
        for picture in [original, original.converted(to: .L)] {
            let path = folder.appendingPathComponent("\(picture.mode.rawValue).png").path
            try PictureFile.writePNG(picture, to: path)
            #expect(try PictureFile.read(path) == picture)
        }
    }
}
