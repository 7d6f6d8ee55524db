import JSON

/// The resampling filters zoo reproduces exactly as PIL's `Image.resize` applies them, which is
/// what torchvision's `Resize` does to a PIL picture. Others (nearest, box, hamming, lanczos) are
/// refused by name rather than approximated: a model's accuracy is measured on its own preprocess.
public enum Interpolation: String, Sendable, Equatable, CaseIterable {
    /// PIL's `BILINEAR`: a triangle, support 1.
    case bilinear
    /// PIL's `BICUBIC`: Keys' cubic convolution with a = -0.5, support 2. Its negative lobes
    /// overshoot at edges, so each pass clips to the sample range.
    case bicubic

    /// The manifest's `interpolation` as torchvision writes it: the mode's value (`"bicubic"`),
    /// its printed name (`"InterpolationMode.BICUBIC"`) or PIL's filter number (3); nil for a
    /// filter zoo does not reproduce.
    public init?(manifest value: JSONValue) {
        for mode in Self.allCases {
            if value == .string(mode.rawValue) || value == .string("InterpolationMode." + mode.rawValue.uppercased())
                || value == .int(mode.pilNumber)
            {
                self = mode
                return
            }
        }
        return nil
    }

    /// PIL's `Image.Resampling` number, which torchvision's older `interpolation=` took.
    var pilNumber: Int64 {
        switch self {
        case .bilinear: 2
        case .bicubic: 3
        }
    }

    /// How far (in input samples, before widening for a reduction) the filter reaches.
    var support: Double {
        switch self {
        case .bilinear: 1
        case .bicubic: 2
        }
    }

    /// The filter at distance `x`, each written as Pillow evaluates it: the coefficients are
    /// rounded to 22-bit fixed point, so a differently ordered formula could round one the other
    /// way and move an output sample by a level.
    func weight(at x: Double) -> Double {
        let x = abs(x)
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}
