import Foundation
import JSON
import Pictures
import TestSupport
import Testing

/// Every bad picture is a case to match on, not a message to read.
@Suite("PictureError cases")
struct PictureErrorCaseTests {
    static let fixtures = Fixtures("PicturesTests")

    /// What each bad fixture is, as a value.
    static let cases: [(String, @Sendable (PictureError) -> Bool)] = [
        ("bad_cmyk.jpg", { if case .cmyk = $0 { true } else { false } }),
        ("bad_truncated.png", { if case .truncated(_, .png) = $0 { true } else { false } }),
        ("bad_not_a_picture.png", { if case .notAPicture = $0 { true } else { false } }),
        // libpng rejects a zero width in the header itself, before zoo's own check.
        ("bad_zero_width.png", { if case .undecodable(_, .png, _) = $0 { true } else { false } }),
        ("bad_absurd_size.png", { if case .tooManyPixels(_, .png, PictureLimits.maximumPixels) = $0 { true } else { false } }),
        ("bad_empty.png", { if case .empty = $0 { true } else { false } }),
        ("bad_truncated.jpg", { if case .undecodable(_, .jpeg, _) = $0 { true } else { false } }),
    ]

    @Test(arguments: cases.map(\.0))
    func aBadPictureIsItsCase(name: String) throws {
        let path = Self.fixtures.path(name)
        let error = try #require(#expect(throws: PictureError.self) { try PictureFile.read(path) })
        let matches = try #require(Self.cases.first { $0.0 == name }?.1)
        #expect(matches(error), "\(name): \(error)")
        #expect(error.path == path)
    }

    @Test(arguments: [
        (JSONValue.string("Resize"), PreprocessError.notAList),
        (.array([.object(["size": .int(3)])]), .missingType(index: 0)),
        (.array([.object(["type": .string("Blur")])]), .unknownTransform(index: 0, name: "Blur")),
        (.array([.object(["type": .string("Grayscale"), "num_output_channels": .int(2)])]), .grayscaleChannels(index: 0)),
        (.array([.object(["type": .string("CenterCrop"), "size": .int(0)])]), .invalidSize(index: 0, transform: "CenterCrop")),
        (.array([.object(["type": .string("Grayscale")])]), .noToTensor),
    ])
    func aPreprocessListZooCannotApplyIsItsCase(json: JSONValue, expected: PreprocessError) {
        #expect(throws: expected) { try Preprocess(json: json) }
    }
}
