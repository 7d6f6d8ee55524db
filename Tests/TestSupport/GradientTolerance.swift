import Tensor

/// The gradient rule the training tests share: how far `actual` is from `expected` (the largest
/// absolute difference, infinity when the shapes differ or only one is NaN) and the bound it
/// must stay within, `1e-4 x max(1, max |expected|)`.
public func gradientError(_ actual: Tensor, _ expected: Tensor) -> (worst: Float, bound: Float) {
    guard actual.shape == expected.shape else { return (.infinity, 0) }
    let (a, e) = (actual.scalars, expected.scalars)
    var (worst, largest): (Float, Float) = (0, 0)
    for index in 0..<a.count {
        worst = max(worst, abs(a[index] - e[index]))
        largest = max(largest, abs(e[index]))
        if a[index].isNaN != e[index].isNaN { worst = .infinity }
    }
    return (worst, 1e-4 * max(1, largest))
}
