import Foundation
import NN

/// What a forward pass will allocate, by kind, in bytes. Sums saturate at `Int.max` instead of
/// overflowing, so that absurd shapes (a batch of 2^62) still give an answer to refuse.
public struct MemoryEstimate: Sendable, Equatable, Encodable {
    /// The input batch, as float32.
    public var input: Int
    /// The activations alive at the pass's fullest moment.
    public var activations: Int
    /// The model's parameters and buffers.
    public var weights: Int
    /// Scratch the kernels use beside them (column matrices, reordered copies).
    public var workspace: Int

    public init(input: Int, activations: Int, weights: Int, workspace: Int) {
        self.input = input
        self.activations = activations
        self.weights = weights
        self.workspace = workspace
    }

    public var total: Int { [input, activations, weights, workspace].reduce(0, MemoryEstimate.adding) }

    private enum CodingKeys: String, CodingKey { case input, activations, weights, workspace, total }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(input, forKey: .input)
        try container.encode(activations, forKey: .activations)
        try container.encode(weights, forKey: .weights)
        try container.encode(workspace, forKey: .workspace)
        try container.encode(total, forKey: .total)
    }

    /// What an eval-mode pass of `model` on an input of `inputShape` (batch axis included) will
    /// hold: the input, the activations at the fullest moment (each layer's shape rule), the
    /// weights, and the kernels' scratch (reordered copies of the fullest layer's input and
    /// output, prepared weights, and column matrices of at most 32 MiB). A dimension past 2^32 is taken as larger
    /// than any memory (and keeps the shape arithmetic from overflowing); a shape the model
    /// refuses throws the error its forward would.
    public init(model: Module, inputShape: [Int]) throws {
        input = float32Bytes(inputShape)
        weights = model.expectedTensors.reduce(0) { total, tensor in
            Self.adding(total, Self.multiplying(tensor.shape.reduce(1, Self.multiplying), tensor.dtype.byteCount))
        }
        guard inputShape.allSatisfy({ $0 <= 1 << 32 }) else {
            activations = .max
            workspace = 0
            return
        }
        activations = try model.activationBytes(for: inputShape)
        // oneDNN's copies of the fullest layer's input and output in its blocked layout and the
        // output it writes before reordering back (twice the activations, measured), its prepared
        // weights (four times them for Winograd's transformed ones), and scratch.
        workspace = [Self.multiplying(activations, 2), Self.multiplying(weights, 4), 32 << 20].reduce(0, Self.adding)
    }

    /// `a + b`, or `Int.max` when it would overflow.
    public static func adding(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    /// `a * b`, or `Int.max` when it would overflow.
    public static func multiplying(_ a: Int, _ b: Int) -> Int {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? .max : product
    }

}

/// How much memory this process may still take, and whether a workload fits it.
public enum MemoryAdmission {
    /// Where a limit came from.
    public enum Source: String, Sendable, Encodable {
        /// The kernel's estimate of memory available without swapping (`MemAvailable`).
        case machine = "this machine"
        /// This process's control group (a container's memory limit).
        case controlGroup = "this process's control group"
        /// Given by the caller (`--max-memory` on the command line).
        case caller = "the given limit"
    }

    /// Bytes available now: `MemAvailable`, lowered to what the control group (v2 or v1) leaves;
    /// nil when neither can be read.
    public static func available() -> (bytes: Int, source: Source)? {
        let machine = meminfoAvailable().map { (bytes: $0, source: Source.machine) }
        guard let group = controlGroupRoom() else { return machine }
        guard let machine, machine.bytes <= group else { return (group, .controlGroup) }
        return machine
    }

    /// Throws when `estimate` is more than `limit` (default: ``available()``) allows.
    public static func admit(_ estimate: MemoryEstimate, limit: Int? = nil) throws(MemoryAdmissionError) {
        guard let room = limit.map({ (bytes: $0, source: Source.caller) }) ?? available() else { return }
        if estimate.total > room.bytes {
            throw MemoryAdmissionError(estimate: estimate, availableBytes: room.bytes, source: room.source)
        }
    }

    private static func meminfoAvailable() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kilobytes = Int(fields[1]) { return MemoryEstimate.multiplying(kilobytes, 1024) }
        }
        return nil
    }

    /// The control group's limit minus its usage: cgroup v2 (`memory.max`, `memory.current`) or
    /// v1 (`memory.limit_in_bytes`, `memory.usage_in_bytes`); nil when there is no limit.
    private static func controlGroupRoom() -> Int? {
        let candidates = [
            ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
        ]
        for (limitPath, usagePath) in candidates {
            guard let limitText = try? String(contentsOfFile: limitPath, encoding: .utf8) else { continue }
            // "max" (v2) or a value near Int64.max (v1) means no limit.
            guard let limit = Int(limitText.trimmingCharacters(in: .whitespacesAndNewlines)), limit < (1 << 60) else { return nil }
            let usage = (try? String(contentsOfFile: usagePath, encoding: .utf8)).flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return Swift.max(0, limit - (usage ?? 0))
        }
        return nil
    }
}

/// A workload refused before anything was allocated, saying what it needs and what there is.
public struct MemoryAdmissionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var estimate: MemoryEstimate
    public var availableBytes: Int
    public var source: MemoryAdmission.Source

    public var description: String {
        let parts = [
            ("input", estimate.input), ("activations", estimate.activations), ("weights", estimate.weights),
            ("workspace", estimate.workspace),
        ].map { "\($0.0) \(Self.format($0.1))" }
        let room =
            switch source {
            case .machine: "this machine has \(Self.format(availableBytes)) available"
            case .controlGroup: "this process's control group leaves \(Self.format(availableBytes))"
            case .caller: "the limit is \(Self.format(availableBytes))"
            }
        return "needs \(Self.format(estimate.total)) (\(parts.joined(separator: ", "))), \(room)"
    }

    /// Binary units with one decimal, as `free -h` prints them; saturated sums as "more than 8 EiB".
    static func format(_ bytes: Int) -> String {
        if bytes == .max { return "more than 8 EiB" }
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
