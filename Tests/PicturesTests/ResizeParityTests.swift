import Checkpoint
import HDF5
import JSON
import Pictures
import Tensor
import TestSupport
import Testing

/// Resizing as PIL does it, sample for sample, against what Pillow 13 produced
/// (Tools/make_picture_fixtures.py, `resized.h5`): bilinear and bicubic, up and down, by
/// non-integer scales, on 1-3 pixel pictures, on hard edges where bicubic overshoots and the
/// clipping between passes shows, in both pass orders, 8-bit L and RGB and 16-bit grey; and
/// bicubic torchvision pipelines (efficientnet_b0's transforms among them) to the float bit.
@Suite("ResizeParity")
struct ResizeParityTests {
    static let fixtures = Fixtures("PicturesTests")
    static let resized = fixtures.path("resized.h5")

    static func names(in group: String) -> [String] {
        (try? HDF5File.openReadOnly(resized).rootGroup().openGroup(group).members().map(\.name)) ?? []
    }
    static let resizeNames = names(in: "resized")
    static let pipelineNames = names(in: "pipelines").filter { !$0.hasSuffix(":table") }

    @Test func fixturesArePresent() {
        #expect(Self.resizeNames.count >= 40)
        #expect(Self.resizeNames.contains { $0.contains(":bicubic:") })
        #expect(Self.pipelineNames.contains("rgb_portrait.png:efficientnet_b0"))
    }

    @Test(arguments: resizeNames)
    func resizesAsPIL(name: String) throws {
        let dataset = try HDF5File.openReadOnly(Self.resized).rootGroup().openGroup("resized").openDataset(name)
        let picture = try PictureFile.read(Self.fixtures.path(try #require(try dataset.stringAttribute("picture"))))
        let filter = try #require(try dataset.stringAttribute("interpolation"))
        let interpolation = try #require(Interpolation(rawValue: filter))
        let expected = try dataset.readTensor()
        let (height, width) = (expected.shape[0], expected.shape[1])
        let actual = picture.resized(width: width, height: height, interpolation: interpolation)
        #expect(actual.mode == picture.mode)
        let samples = actual.mode == .I16 ? actual.words.map(Float.init) : actual.bytes.map(Float.init)
        #expect(samples.count == expected.count, "\(name)")
        let differing = zip(samples, expected.scalars).filter { $0 != $1 }
        let worst = differing.map { abs($0 - $1) }.max() ?? 0
        #expect(differing.isEmpty, "\(name): \(differing.count) samples differ from PIL, by up to \(worst) levels")
    }

    /// The pipeline's tensor is stored as the 8-bit picture before ToTensor (`<name>`, CHW) and
    /// torchvision's value for each level per channel (`<name>:table`): `table[c][levels[c, i]]`
    /// is torchvision's output, bit for bit (the generator checks it).
    @Test(arguments: pipelineNames)
    func bicubicPipelineGivesTorchvisionsTensor(name: String) throws {
        let group = try HDF5File.openReadOnly(Self.resized).rootGroup().openGroup("pipelines")
        let dataset = try group.openDataset(name)
        let levels = try dataset.readTensor()
        let table = try group.openDataset(name + ":table").readTensor().scalars
        let plane = levels.shape[1] * levels.shape[2]
        let expected = levels.scalars.enumerated().map { index, level in table[(index / plane) * 256 + Int(level)] }
        let preprocess = try Preprocess(json: try JSONValue.parse(try #require(try dataset.stringAttribute("preprocess"))))
        let picture = try PictureFile.read(Self.fixtures.path(try #require(try dataset.stringAttribute("picture"))))
        let actual = try preprocess.apply(picture)
        #expect(actual.shape == levels.shape, "\(name)")
        let differing = zip(actual.scalars, expected).filter { $0 != $1 }.count
        #expect(differing == 0, "\(name): \(differing) of \(expected.count) values differ from torchvision's")
    }

    @Test func efficientnetsTransformsReadAsBicubic() throws {
        let json = try JSONValue.parse(
            #"[{"type": "Resize", "size": [256], "interpolation": "bicubic"}, {"type": "CenterCrop", "size": [224]}, "#
                + #"{"type": "ToTensor"}, {"type": "Normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}]"#)
        let preprocess = try Preprocess(json: json)
        #expect(preprocess.steps.first == .resize(shorterSide: 256, height: nil, width: nil, interpolation: .bicubic))
        #expect(preprocess.stepNames == "Resize(256, bicubic), CenterCrop(224), ToTensor, Normalize")
        #expect(try Preprocess(json: preprocess.json) == preprocess)
    }

    /// `[Resize(8, interpolation), ToTensor]` as a manifest lists it.
    static func resizeList(interpolation: JSONValue) -> JSONValue {
        let resize = JSONValue.object(["type": .string("Resize"), "size": .int(8), "interpolation": interpolation])
        return .array([resize, .object(["type": .string("ToTensor")])])
    }

    @Test(arguments: [
        (JSONValue.string("bicubic"), Interpolation.bicubic), (.string("InterpolationMode.BICUBIC"), .bicubic), (.int(3), .bicubic),
        (.string("bilinear"), .bilinear), (.string("InterpolationMode.BILINEAR"), .bilinear), (.int(2), .bilinear),
    ])
    func interpolationIsReadInTorchvisionsSpellings(spelling: JSONValue, interpolation: Interpolation) throws {
        let steps = try Preprocess(json: Self.resizeList(interpolation: spelling)).steps
        #expect(steps.first == .resize(shorterSide: 8, height: nil, width: nil, interpolation: interpolation))
    }

    @Test(arguments: [JSONValue.string("nearest"), .string("InterpolationMode.NEAREST"), .int(0), .string("lanczos"), .int(1)])
    func otherInterpolationsAreRefusedByName(spelling: JSONValue) {
        let error = #expect(throws: PreprocessError.self) { try Preprocess(json: Self.resizeList(interpolation: spelling)) }
        #expect(error == .unsupportedInterpolation(index: 0, found: "\(spelling)"))
        #expect(error?.description.contains("\(spelling)") == true)
    }

    /// A 23x41 picture to 20x16 goes vertically first in Pillow 13: done the other way round, the
    /// first pass clips bicubic's overshoot elsewhere and samples move by up to 4 levels.
    @Test func passOrderIsPillows() throws {
        let picture = try PictureFile.read(Self.fixtures.path("rgb_portrait.png"))
        let dataset = try HDF5File.openReadOnly(Self.resized).rootGroup().openGroup("resized")
            .openDataset("rgb_portrait.png:bicubic:20x16")
        let expected = try dataset.readTensor().scalars
        let vertical = picture.resized(width: picture.width, height: 16, interpolation: .bicubic)
            .resized(width: 20, height: 16, interpolation: .bicubic)
        let horizontal = picture.resized(width: 20, height: picture.height, interpolation: .bicubic)
            .resized(width: 20, height: 16, interpolation: .bicubic)
        #expect(vertical.bytes.map(Float.init) == expected)
        let worst = zip(horizontal.bytes.map(Float.init), expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst == 4)
    }
}
