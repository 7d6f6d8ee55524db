import JSON
import Tensor

/// A picture's way to a model's input: torchvision transforms by their class names and keyword
/// arguments, applied in order, as a checkpoint's manifest `preprocess` lists them
/// (`[{"type": "Resize", "size": [32, 32]}, {"type": "ToTensor"}]`).
public struct Preprocess: Sendable, Equatable {
    public enum Step: Sendable, Equatable {
        /// `Resize(size, interpolation)`: an int resizes the shorter side (the longer one in
        /// proportion, truncated), `[h, w]` resizes to exactly that; PIL's bilinear or bicubic
        /// filter.
        case resize(shorterSide: Int?, height: Int?, width: Int?, interpolation: Interpolation)
        case centerCrop(height: Int, width: Int)
        /// `Grayscale(num_output_channels)`: PIL's `convert("L")`, replicated to 3 channels when asked.
        case grayscale(channels: Int)
        /// `RGB()` (torchvision.transforms.v2): PIL's `convert("RGB")`, colour kept, grey replicated,
        /// alpha dropped; what torchvision's ImageFolder loader does to every picture.
        case rgb
        /// `ToTensor()`: HWC 8-bit to CHW float in [0, 1].
        case toTensor
        /// `PILToTensor()`: CHW with the 0-255 values kept, as float32 for the model.
        case pilToTensor
        /// `Normalize(mean, std)`: `(x - mean[c]) / std[c]` per channel.
        case normalize(mean: [Double], std: [Double])
    }

    public var steps: [Step]

    public init(steps: [Step]) { self.steps = steps }

    /// The steps as torchvision names them: `Resize(256), CenterCrop(224), ToTensor, Normalize`.
    public var stepNames: String {
        steps.map { step in
            switch step {
            case .resize(let shorter?, _, _, let interpolation): "Resize(\(shorter)\(Self.named(interpolation)))"
            case .resize(_, let height, let width, let interpolation):
                "Resize(\(height ?? 0), \(width ?? 0)\(Self.named(interpolation)))"
            case .centerCrop(let height, let width): height == width ? "CenterCrop(\(height))" : "CenterCrop(\(height), \(width))"
            case .grayscale(let channels): channels == 1 ? "Grayscale" : "Grayscale(3)"
            case .rgb: "RGB"
            case .toTensor: "ToTensor"
            case .pilToTensor: "PILToTensor"
            case .normalize: "Normalize"
            }
        }.joined(separator: ", ")
    }

    /// Bilinear, torchvision's default, goes unnamed in ``stepNames``.
    private static func named(_ interpolation: Interpolation) -> String {
        interpolation == .bilinear ? "" : ", \(interpolation.rawValue)"
    }

    /// Without a `preprocess` in the file: converted to the model's channel count (1 grey, 3 RGB),
    /// ToTensor's scaling, no resize.
    public static func standard(channels: Int) -> Preprocess {
        Preprocess(steps: [channels == 1 ? .grayscale(channels: 1) : .rgb, .toTensor])
    }

    /// Parses the manifest's list; unknown transforms and arguments are errors naming them.
    public init(json: JSONValue) throws(PreprocessError) {
        guard let items = json.arrayValue else { throw PreprocessError.notAList }
        steps = []
        for (index, item) in items.enumerated() {
            guard let fields = item.objectValue, let type = fields["type"]?.stringValue else {
                throw PreprocessError.missingType(index: index)
            }
            let arguments = fields.filter { $0.key != "type" }
            func allow(_ names: Set<String>) throws(PreprocessError) {
                if let unknown = arguments.keys.sorted().first(where: { !names.contains($0) }) {
                    throw PreprocessError.unknownArgument(index: index, transform: type, argument: unknown)
                }
            }
            switch type {
            case "Resize":
                try allow(["size", "interpolation", "antialias", "max_size"])
                var interpolation = Interpolation.bilinear
                if let given = arguments["interpolation"] {
                    guard let known = Interpolation(manifest: given) else {
                        throw PreprocessError.unsupportedInterpolation(index: index, found: "\(given)")
                    }
                    interpolation = known
                }
                if let maxSize = arguments["max_size"], maxSize != .null {
                    throw PreprocessError.maxSizeUnsupported(index: index)
                }
                let size = try Self.size(arguments["size"], index: index, type: type)
                steps.append(
                    size.count == 1
                        ? .resize(shorterSide: size[0], height: nil, width: nil, interpolation: interpolation)
                        : .resize(shorterSide: nil, height: size[0], width: size[1], interpolation: interpolation))
            case "CenterCrop":
                try allow(["size"])
                let size = try Self.size(arguments["size"], index: index, type: type)
                steps.append(.centerCrop(height: size[0], width: size.count == 1 ? size[0] : size[1]))
            case "Grayscale":
                try allow(["num_output_channels"])
                let channels = arguments["num_output_channels"]?.intValue ?? 1
                guard channels == 1 || channels == 3 else {
                    throw PreprocessError.grayscaleChannels(index: index)
                }
                steps.append(.grayscale(channels: channels))
            case "RGB":
                try allow([])
                steps.append(.rgb)
            case "ToTensor":
                try allow([])
                steps.append(.toTensor)
            case "PILToTensor":
                try allow([])
                steps.append(.pilToTensor)
            case "Normalize":
                try allow(["mean", "std", "inplace"])
                guard let mean = arguments["mean"]?.arrayValue?.compactMap(\.doubleValue),
                    let std = arguments["std"]?.arrayValue?.compactMap(\.doubleValue),
                    !mean.isEmpty, mean.count == std.count, std.allSatisfy({ $0 != 0 && $0.isFinite }), mean.allSatisfy(\.isFinite)
                else { throw PreprocessError.normalizeArguments(index: index) }
                steps.append(.normalize(mean: mean, std: std))
            default:
                throw PreprocessError.unknownTransform(index: index, name: type)
            }
        }
        guard steps.contains(where: { $0 == .toTensor || $0 == .pilToTensor }) else {
            throw PreprocessError.noToTensor
        }
    }

    private static func size(_ value: JSONValue?, index: Int, type: String) throws(PreprocessError) -> [Int] {
        if let single = value?.intValue, single > 0 { return [single] }
        if let pair = value?.arrayValue?.compactMap(\.intValue), (1...2).contains(pair.count), pair.allSatisfy({ $0 > 0 }) { return pair }
        throw PreprocessError.invalidSize(index: index, transform: type)
    }

    /// The manifest's JSON for these steps.
    public var json: JSONValue {
        .array(
            steps.map { step in
                switch step {
                case .resize(let shorter, let height, let width, let interpolation):
                    var fields: [String: JSONValue] = [
                        "type": .string("Resize"),
                        "size": shorter.map { .int(Int64($0)) } ?? .array([.int(Int64(height ?? 0)), .int(Int64(width ?? 0))]),
                    ]
                    // Bilinear, torchvision's default, goes unwritten: bilinear lists keep the JSON they had.
                    if interpolation != .bilinear { fields["interpolation"] = .string(interpolation.rawValue) }
                    return .object(fields)
                case .centerCrop(let height, let width):
                    return .object(["type": .string("CenterCrop"), "size": .array([.int(Int64(height)), .int(Int64(width))])])
                case .grayscale(let channels):
                    return .object(["type": .string("Grayscale"), "num_output_channels": .int(Int64(channels))])
                case .rgb: return .object(["type": .string("RGB")])
                case .toTensor: return .object(["type": .string("ToTensor")])
                case .pilToTensor: return .object(["type": .string("PILToTensor")])
                case .normalize(let mean, let std):
                    return .object([
                        "type": .string("Normalize"), "mean": .array(mean.map(JSONValue.double)), "std": .array(std.map(JSONValue.double)),
                    ])
                }
            })
    }

    /// The picture as the model's input for one sample, `(C, H, W)` float32.
    public func apply(_ picture: Picture) throws(PreprocessError) -> Tensor {
        var picture = picture
        var tensor: Tensor?
        for step in steps {
            switch step {
            case .resize(let shorter, let height, let width, let interpolation):
                guard tensor == nil else { throw PreprocessError.afterTensor(transform: "Resize") }
                if let shorter {
                    let (short, long) = picture.width <= picture.height ? (picture.width, picture.height) : (picture.height, picture.width)
                    if short == shorter { continue }
                    let newLong = Int(Double(shorter) * Double(long) / Double(short))
                    picture =
                        picture.width <= picture.height
                        ? picture.resized(width: shorter, height: newLong, interpolation: interpolation)
                        : picture.resized(width: newLong, height: shorter, interpolation: interpolation)
                } else if let height, let width {
                    picture = picture.resized(width: width, height: height, interpolation: interpolation)
                }
            case .centerCrop(let height, let width):
                guard tensor == nil else { throw PreprocessError.afterTensor(transform: "CenterCrop") }
                picture = picture.centerCropped(height: height, width: width)
            case .grayscale(let channels):
                guard tensor == nil else { throw PreprocessError.afterTensor(transform: "Grayscale") }
                picture = picture.converted(to: .L)
                if channels == 3 { picture = picture.converted(to: .RGB) }
            case .rgb:
                guard tensor == nil else { throw PreprocessError.afterTensor(transform: "RGB") }
                picture = picture.converted(to: .RGB)
            case .toTensor, .pilToTensor:
                guard tensor == nil else { throw PreprocessError.tensorMadeTwice }
                tensor = picture.tensor(scaled: step == .toTensor)
            case .normalize(let mean, let std):
                guard let current = tensor else { throw PreprocessError.normalizeBeforeTensor }
                guard mean.count == current.shape[0] || mean.count == 1 else {
                    throw PreprocessError.normalizeChannels(means: mean.count, channels: current.shape[0])
                }
                tensor = current.normalized(mean: mean, std: std)
            }
        }
        guard let tensor else { throw PreprocessError.noTensorMade }
        return tensor
    }
}

extension Picture {
    /// `(C, H, W)` float32: `/ 255` when `scaled` (ToTensor), the raw values otherwise
    /// (PILToTensor). 16-bit grey keeps its values unscaled, read as int16, as torchvision does.
    public func tensor(scaled: Bool) -> Tensor {
        let channels = mode.channels
        let plane = width * height
        var values = [Float](repeating: 0, count: channels * plane)
        if mode == .I16 {
            for index in 0..<plane { values[index] = Float(Int16(bitPattern: words[index])) }
        } else {
            // Divided, not multiplied by 1/255: torchvision's `img.float().div(255)`, bit for bit.
            let divisor: Float = scaled ? 255 : 1
            for index in 0..<plane {
                for channel in 0..<channels {
                    values[channel * plane + index] = Float(bytes[index * channels + channel]) / divisor
                }
            }
        }
        return Tensor(shape: [channels, height, width], scalars: values)
    }
}

extension Tensor {
    func normalized(mean: [Double], std: [Double]) -> Tensor {
        let channels = shape[0]
        let plane = count / max(channels, 1)
        var values = scalars
        for channel in 0..<channels {
            let m = Float(mean[mean.count == 1 ? 0 : channel])
            let s = Float(std[std.count == 1 ? 0 : channel])
            for index in (channel * plane)..<((channel + 1) * plane) { values[index] = (values[index] - m) / s }
        }
        return Tensor(shape: shape, scalars: values)
    }
}
