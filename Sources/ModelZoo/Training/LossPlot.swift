import Pictures

/// `zoo train --plot`: the epochs' curves as a 720 x 360 PNG, loss on the left (training blue,
/// validation orange, from 0 to the largest loss) and accuracy on the right (the same colours,
/// from 0 to 1), one point per epoch on a light grid of tenths.
public enum LossPlot {
    public static func write(_ epochs: [EpochRecord], to path: String) throws(PictureError) {
        var canvas = Canvas(width: 720, height: 360)
        let largest = max(epochs.flatMap { [$0.loss, $0.valLoss ?? 0] }.filter(\.isFinite).max() ?? 1, 1e-12)
        let panels: [(left: Int, series: [[Double?]], top: Double)] = [
            (0, [epochs.map(\.loss), epochs.map(\.valLoss)], largest),
            (360, [epochs.map(\.accuracy), epochs.map(\.valAccuracy)], 1),
        ]
        let colours: [(UInt8, UInt8, UInt8)] = [(31, 119, 180), (255, 127, 14)]
        for panel in panels {
            let frame = (left: panel.left + 30, right: panel.left + 340, top: 20, bottom: 330)
            for tenth in 0...10 {
                let y = frame.bottom - (frame.bottom - frame.top) * tenth / 10
                canvas.line(frame.left, y, frame.right, y, colour: tenth == 0 ? (0, 0, 0) : (225, 225, 225))
            }
            canvas.line(frame.left, frame.top, frame.left, frame.bottom, colour: (0, 0, 0))
            for (series, colour) in zip(panel.series, colours) {
                let points = series.enumerated().compactMap { index, value -> (Int, Int)? in
                    guard let value, value.isFinite else { return nil }
                    let x =
                        frame.left
                        + (epochs.count > 1 ? (frame.right - frame.left) * index / (epochs.count - 1) : (frame.right - frame.left) / 2)
                    let share = Swift.min(Swift.max(value / panel.top, 0), 1)
                    return (x, frame.bottom - Int((Double(frame.bottom - frame.top) * share).rounded()))
                }
                for (from, to) in zip(points, points.dropFirst()) { canvas.line(from.0, from.1, to.0, to.1, colour: colour, thickness: 2) }
                for point in points { canvas.square(point.0, point.1, radius: 3, colour: colour) }
            }
        }
        try PictureFile.writePNG(Picture(width: canvas.width, height: canvas.height, mode: .RGB, bytes: canvas.bytes), to: path)
    }
}

/// White RGB pixels to draw on.
private struct Canvas {
    let width: Int
    let height: Int
    var bytes: [UInt8]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        bytes = Array(repeating: 255, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ colour: (UInt8, UInt8, UInt8)) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let base = (y * width + x) * 3
        (bytes[base], bytes[base + 1], bytes[base + 2]) = colour
    }

    mutating func square(_ x: Int, _ y: Int, radius: Int, colour: (UInt8, UInt8, UInt8)) {
        for dy in -radius...radius { for dx in -radius...radius { set(x + dx, y + dy, colour) } }
    }

    /// A straight line by Bresenham's steps, `thickness` pixels wide.
    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, colour: (UInt8, UInt8, UInt8), thickness: Int = 1) {
        var (x, y) = (x0, y0)
        let (dx, dy) = (abs(x1 - x0), -abs(y1 - y0))
        let (sx, sy) = (x0 < x1 ? 1 : -1, y0 < y1 ? 1 : -1)
        var error = dx + dy
        while true {
            for offset in 0..<thickness { set(x, y + offset, colour) }
            if x == x1 && y == y1 { return }
            let doubled = 2 * error
            if doubled >= dy {
                error += dy
                x += sx
            }
            if doubled <= dx {
                error += dx
                y += sy
            }
        }
    }
}
