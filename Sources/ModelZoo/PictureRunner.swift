import Checkpoint
import Foundation
import JSON
import NN
import Pictures
import Tensor

/// One class among a picture's top K.
public struct ClassScore: Sendable, Encodable, Equatable {
    public var index: Int
    /// The manifest's class name, or nil when the file names no classes.
    public var name: String?
    public var probability: Double

    private enum CodingKeys: String, CodingKey { case index, name = "class", probability }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(name, forKey: .name)  // null when unnamed, as scripts expect the key
        try container.encode(probability, forKey: .probability)
    }
}

/// What a classifier says of one picture.
public struct PicturePrediction: Sendable, Encodable, Equatable {
    public var image: String
    public var top: [ClassScore]
}

/// Why pictures could not be run, naming the picture or the file.
public enum PictureRunError: Error, Sendable, CustomStringConvertible {
    case picture(PictureError)
    case preprocess(path: String, PreprocessError)
    case mismatchedSizes(String)
    case forward(String)
    case output(String)
    /// Output pictures were asked for, but the model's output is not `(N, C, H, W)`.
    case notPictureShaped(shape: [Int])

    public var description: String {
        switch self {
        case .picture(let error): return error.description
        case .preprocess(let path, let error): return "\(path): \(error)"
        case .mismatchedSizes(let reason), .forward(let reason), .output(let reason): return reason
        case .notPictureShaped(let shape):
            return "output pictures need a picture-shaped output (N, C, H, W); the model gives \(shape)"
        }
    }
}

/// How output values become 8-bit pixels.
public enum PictureScale: String, Sendable, CaseIterable {
    /// Each channel stretched from its minimum to its maximum, as matplotlib's imshow shows it.
    case minmax
    /// [0, 1] clamped to 0-255, for sigmoid outputs.
    case unit
}

/// A preprocess and where it came from, so that a run can say which one its pictures went through.
public struct ChosenPreprocess: Sendable {
    public enum Origin: Sendable, Equatable {
        /// The caller's (`--preprocess`).
        case given
        /// The checkpoint's manifest `preprocess`.
        case file
        /// torchvision's transforms for a recognised family's weights.
        case torchvision(weights: String)
        /// Nothing known: the model's channel count and ToTensor scaling only.
        case standard
    }

    public var preprocess: Preprocess
    public var origin: Origin

    /// One line for a person: which preprocess ran.
    public var summary: String {
        switch origin {
        case .given: "preprocess: the one given on the command line"
        case .file: "preprocess: the file's own"
        case .torchvision(let weights): "preprocess: torchvision's transforms for \(weights) (\(preprocess.stepNames))"
        case .standard:
            "preprocess: none known for this file; pictures were only converted (\(preprocess.stepNames)), "
                + "without resize or normalisation"
        }
    }
}

public enum PictureRunner {
    /// The preprocess a checkpoint's pictures go through: the manifest's, or the standard one
    /// for the model's input channels (grey or RGB, ToTensor scaling, no resize).
    public static func preprocess(for checkpoint: LoadedCheckpoint, model resolved: ResolvedModel) throws(PictureRunError) -> Preprocess {
        try choosePreprocess(for: checkpoint, model: resolved).preprocess
    }

    /// The preprocess pictures go through and why: `given` (a caller's, as JSON) first, then the
    /// file's `preprocess`, then, for a recognised torchvision family, the transforms of
    /// torchvision's weights for it, and only then the standard one, which says that nothing
    /// better is known.
    public static func choosePreprocess(
        for checkpoint: LoadedCheckpoint, model resolved: ResolvedModel, given: JSONValue? = nil
    ) throws(PictureRunError) -> ChosenPreprocess {
        if let given {
            do { return ChosenPreprocess(preprocess: try Preprocess(json: given), origin: .given) } catch {
                throw .preprocess(path: "the given preprocess", error)
            }
        }
        if let json = checkpoint.manifest?.preprocess {
            do { return ChosenPreprocess(preprocess: try Preprocess(json: json), origin: .file) } catch {
                throw .preprocess(path: checkpoint.path, error)
            }
        }
        if let family = resolved.family {
            do {
                // Pictures reach torchvision's transforms as RGB (ImageFolder's loader converts them).
                var steps = try Preprocess(json: family.preprocess).steps
                if steps.first != .rgb { steps.insert(.rgb, at: 0) }
                return ChosenPreprocess(preprocess: Preprocess(steps: steps), origin: .torchvision(weights: family.weights))
            } catch {
                throw .preprocess(path: "torchvision's \(family.weights) transforms", error)
            }
        }
        return ChosenPreprocess(preprocess: .standard(channels: inputChannels(of: resolved)), origin: .standard)
    }

    /// The class names: the file's, else those of a recognised torchvision family's weights.
    public static func classes(for checkpoint: LoadedCheckpoint, model resolved: ResolvedModel) -> [String]? {
        checkpoint.manifest?.classes ?? resolved.family.map(\.categories)
    }

    /// The model's input channels: the registry's input shape, else the first convolution's.
    static func inputChannels(of resolved: ResolvedModel) -> Int {
        if let shape = resolved.inputShape, let channels = shape.first { return channels }
        for module in resolved.model.modules {
            if let conv = module as? Conv2d { return conv.inChannels }
            if let conv = module as? ConvTranspose2d { return conv.inChannels }
        }
        return 3
    }

    /// Decodes and preprocesses `images` into one batch `(N, C, H, W)`.
    /// Pictures are decoded by `decode` (in process by default; the command line contains it).
    public static func batch(
        _ images: [String], preprocess: Preprocess, checkpointPath: String,
        decode: (String) throws(PictureError) -> Picture = { path throws(PictureError) in try PictureFile.read(path) }
    ) throws(PictureRunError) -> Tensor {
        var samples: [Tensor] = []
        for path in images {
            let picture: Picture
            do { picture = try decode(path) } catch { throw .picture(error) }
            do { samples.append(try preprocess.apply(picture)) } catch { throw .preprocess(path: checkpointPath, error) }
        }
        guard let first = samples.first else { throw .forward("no pictures given") }
        if let odd = samples.firstIndex(where: { $0.shape != first.shape }) {
            throw .mismatchedSizes(
                "\(images[odd]) gives an input of shape \(samples[odd].shape) but \(images[0]) gives \(first.shape); "
                    + "the file's preprocess needs a Resize (or CenterCrop) to run them as one batch")
        }
        return Tensor(shape: [samples.count] + first.shape, scalars: samples.flatMap(\.scalars))
    }

    /// Softmax over each row of a `(N, classes)` output, the `k` most probable classes first.
    public static func top(_ k: Int, of output: Tensor, images: [String], classes: [String]?) -> [PicturePrediction] {
        let columns = output.shape[1]
        let values = output.scalars
        return images.enumerated().map { row, image in
            let logits = (0..<columns).map { Double(values[row * columns + $0]) }
            let largest = logits.max() ?? 0
            let exponentials = logits.map { exp($0 - largest) }
            let total = exponentials.reduce(0, +)
            let ranked = exponentials.indices.sorted {
                exponentials[$0] > exponentials[$1] || (exponentials[$0] == exponentials[$1] && $0 < $1)
            }
            return PicturePrediction(
                image: image,
                top: ranked.prefix(k).map { index in
                    ClassScore(
                        index: index, name: classes.flatMap { index < $0.count ? $0[index] : nil }, probability: exponentials[index] / total
                    )
                })
        }
    }

    /// Writes each sample of a 4-D output as a PNG: 1 channel grey, 3 RGB, more a grid with one
    /// tile per channel. With several samples the index goes before the extension (`out-0.png`).
    public static func writeOutputPictures(_ output: Tensor, to path: String, scale: PictureScale) throws(PictureRunError) -> [String] {
        guard output.rank == 4 else {
            throw .notPictureShaped(shape: output.shape)
        }
        let (batch, channels, height, width) = (output.shape[0], output.shape[1], output.shape[2], output.shape[3])
        let values = output.scalars
        var written: [String] = []
        for sample in 0..<batch {
            let planes = (0..<channels).map { channel -> [UInt8] in
                let start = (sample * channels + channel) * height * width
                return PictureScaling.bytes(Array(values[start..<(start + height * width)]), scale: scale)
            }
            let picture: Picture
            if channels == 3 {
                var interleaved = [UInt8](repeating: 0, count: height * width * 3)
                for index in 0..<(height * width) { for c in 0..<3 { interleaved[index * 3 + c] = planes[c][index] } }
                picture = Picture(width: width, height: height, mode: .RGB, bytes: interleaved)
            } else if channels == 1 {
                picture = Picture(width: width, height: height, mode: .L, bytes: planes[0])
            } else {
                picture = PictureScaling.grid(planes, tileWidth: width, tileHeight: height, enlarge: 1)
            }
            let target = batch == 1 ? path : numbered(path, sample)
            do { try PictureFile.writePNG(picture, to: target) } catch { throw .picture(error) }
            written.append(target)
        }
        return written
    }

    static func numbered(_ path: String, _ index: Int) -> String {
        let url = URL(fileURLWithPath: path)
        let ext = url.pathExtension
        let stem = url.deletingPathExtension().path
        return ext.isEmpty ? "\(stem)-\(index)" : "\(stem)-\(index).\(ext)"
    }
}

/// Output values to pixels, and grids of tiles.
enum PictureScaling {
    static func bytes(_ values: [Float], scale: PictureScale) -> [UInt8] {
        switch scale {
        case .unit:
            return values.map { UInt8((min(max($0.isNaN ? 0 : $0, 0), 1) * 255).rounded()) }
        case .minmax:
            let finite = values.filter(\.isFinite)
            guard let low = finite.min(), let high = finite.max(), high > low else { return [UInt8](repeating: 0, count: values.count) }
            return values.map { value in
                guard value.isFinite else { return value > 0 ? 255 : 0 }
                return UInt8(((value - low) / (high - low) * 255).rounded())
            }
        }
    }

    /// Grey tiles in rows of `ceil(sqrt(n))`, each pixel enlarged `enlarge` times, 1-pixel gaps
    /// of mid-grey between tiles.
    static func grid(_ tiles: [[UInt8]], tileWidth: Int, tileHeight: Int, enlarge: Int, columns requested: Int? = nil) -> Picture {
        let columns = requested ?? Int(Double(tiles.count).squareRoot().rounded(.up))
        let rows = (tiles.count + columns - 1) / columns
        let cellWidth = tileWidth * enlarge
        let cellHeight = tileHeight * enlarge
        let gap = 1
        let width = columns * cellWidth + (columns - 1) * gap
        let height = rows * cellHeight + (rows - 1) * gap
        var pixels = [UInt8](repeating: 128, count: width * height)
        for (index, tile) in tiles.enumerated() {
            let left = (index % columns) * (cellWidth + gap)
            let top = (index / columns) * (cellHeight + gap)
            for y in 0..<cellHeight {
                for x in 0..<cellWidth {
                    pixels[(top + y) * width + left + x] = tile[(y / enlarge) * tileWidth + x / enlarge]
                }
            }
        }
        return Picture(width: width, height: height, mode: .L, bytes: pixels)
    }
}

/// The first convolution's kernels as one picture, for `zoo inspect --filters`.
public enum FilterGrid {
    /// Each kernel of the first 4-D weight (state_dict order) min-max scaled and enlarged so that
    /// a 3x3 kernel is at least 24 pixels across: one row per output channel and one column per
    /// input channel (2 to 16 of them), else a square grid.
    public static func picture(of stateDict: StateDict) -> (key: String, picture: Picture)? {
        guard
            let (key, weight) = stateDict.first(where: {
                $0.key.hasSuffix("weight") && $0.tensor.rank == 4 && $0.tensor.dtype.isFloatingPoint
            })
        else { return nil }
        let (outputs, inputs, height, width) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let values = weight.scalars
        let plane = height * width
        let tiles = (0..<(outputs * inputs)).map { index in
            PictureScaling.bytes(Array(values[(index * plane)..<((index + 1) * plane)]), scale: .minmax)
        }
        let enlarge = max(1, Int((24.0 / Double(max(height, width))).rounded(.up)))
        // One column per input channel when there are a few (RGB); a square grid otherwise.
        let columns = (2...16).contains(inputs) ? inputs : nil
        return (key, PictureScaling.grid(tiles, tileWidth: width, tileHeight: height, enlarge: enlarge, columns: columns))
    }
}
