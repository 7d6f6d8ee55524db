/// The allowed error of a forward pass against a reference output, by NumPy's `allclose` rule:
/// `|actual - expected| <= absolute + relative * |expected|` at every element.
public struct Tolerance: Sendable, Equatable {
    public var absolute: Double
    public var relative: Double

    /// atol 1e-5, rtol 1e-4: what float32 arithmetic in another order keeps to on these models.
    public static let `default` = Tolerance(uncheckedAbsolute: 1e-5, relative: 1e-4)

    /// Where a tolerance came from: the caller, the file's `__tests__` attributes, or the default.
    public enum Source: String, Sendable, Encodable {
        case caller = "flag"
        case file
        case `default`
    }

    /// A tolerance that can mean something: finite and non-negative. A NaN makes every
    /// comparison vacuous and an infinite one accepts anything, so both are refused.
    public init(absolute: Double, relative: Double) throws(ToleranceError) {
        for (name, value) in [("atol", absolute), ("rtol", relative)] {
            guard value.isFinite, value >= 0 else { throw ToleranceError(name: name, value: value) }
        }
        self.init(uncheckedAbsolute: absolute, relative: relative)
    }

    private init(uncheckedAbsolute absolute: Double, relative: Double) {
        self.absolute = absolute
        self.relative = relative
    }

    /// True when this accepts errors the default would not.
    public var isLooserThanDefault: Bool {
        absolute > Tolerance.default.absolute || relative > Tolerance.default.relative
    }
}

/// A tolerance that is NaN, infinite or negative.
public struct ToleranceError: Error, Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var value: Double

    public var description: String { "\(name) is \(value); a tolerance must be finite and non-negative" }
}
