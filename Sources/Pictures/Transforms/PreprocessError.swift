/// A preprocess list zoo cannot apply: a case per problem, with the step's index where there is
/// one; the description is the one line the command prints.
public enum PreprocessError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The manifest's `preprocess` is not a JSON list.
    case notAList
    case missingType(index: Int)
    case unknownTransform(index: Int, name: String)
    case unknownArgument(index: Int, transform: String, argument: String)
    /// Resize with an interpolation zoo does not reproduce exactly (nearest, lanczos, ...): one
    /// other than ``Interpolation/bilinear`` and ``Interpolation/bicubic`` (`found` as the
    /// manifest spells it).
    case unsupportedInterpolation(index: Int, found: String)
    case maxSizeUnsupported(index: Int)
    case invalidSize(index: Int, transform: String)
    case grayscaleChannels(index: Int)
    case normalizeArguments(index: Int)
    /// No ToTensor or PILToTensor in the list.
    case noToTensor
    /// A picture transform after the tensor is made.
    case afterTensor(transform: String)
    case tensorMadeTwice
    case normalizeBeforeTensor
    case normalizeChannels(means: Int, channels: Int)
    /// Applying the steps made no tensor (a list built in code without ToTensor).
    case noTensorMade

    public var description: String {
        switch self {
        case .notAList: return "preprocess must be a list of transforms"
        case .missingType(let index): return "preprocess[\(index)] needs a \"type\""
        case .unknownTransform(let index, let name):
            return
                "preprocess[\(index)]: unknown transform '\(name)' (zoo knows Resize, CenterCrop, Grayscale, ToTensor, PILToTensor, Normalize)"
        case .unknownArgument(let index, let transform, let argument):
            return "preprocess[\(index)] \(transform) has no argument '\(argument)' zoo knows"
        case .unsupportedInterpolation(let index, let found):
            return "preprocess[\(index)] Resize: only bilinear and bicubic interpolation are supported, got \(found)"
        case .maxSizeUnsupported(let index): return "preprocess[\(index)] Resize: max_size is not supported"
        case .invalidSize(let index, let transform):
            return "preprocess[\(index)] \(transform): size must be a positive int or [height, width]"
        case .grayscaleChannels(let index): return "preprocess[\(index)] Grayscale: num_output_channels must be 1 or 3"
        case .normalizeArguments(let index):
            return "preprocess[\(index)] Normalize needs mean and std lists of one length, std non-zero"
        case .noToTensor: return "preprocess never makes a tensor: add ToTensor or PILToTensor"
        case .afterTensor(let transform): return "\(transform) after the tensor is made is not supported"
        case .tensorMadeTwice: return "the tensor is made twice"
        case .normalizeBeforeTensor: return "Normalize needs a tensor: put ToTensor before it"
        case .normalizeChannels(let means, let channels): return "Normalize has \(means) means for \(channels) channels"
        case .noTensorMade: return "preprocess never makes a tensor"
        }
    }
}
