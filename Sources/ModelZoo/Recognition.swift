import NN
import Tensor

/// How well a state_dict fits one registry entry.
public struct Candidate: Sendable, Encodable {
    public var architecture: Architecture
    public var arguments: [String: Int]
    public var missingKeys: [String]
    public var unexpectedKeys: [String]
    public var shapeMismatches: [LoadReport.ShapeMismatch]

    public var differenceCount: Int { missingKeys.count + unexpectedKeys.count + shapeMismatches.count }
    public var isExact: Bool { differenceCount == 0 }

    /// `simplecnn(num_classes=10)`.
    public var label: String { Registry.label(architecture, arguments) }

    /// A short account of what differs, naming up to three keys of each kind.
    public var differences: String {
        func some(_ keys: [String]) -> String {
            keys.prefix(3).joined(separator: ", ") + (keys.count > 3 ? " and \(keys.count - 3) more" : "")
        }
        var parts: [String] = []
        if !missingKeys.isEmpty { parts.append("\(missingKeys.count) missing (\(some(missingKeys)))") }
        if !unexpectedKeys.isEmpty { parts.append("\(unexpectedKeys.count) unexpected (\(some(unexpectedKeys)))") }
        if !shapeMismatches.isEmpty {
            parts.append(
                "\(shapeMismatches.count) shape mismatches ("
                    + shapeMismatches.prefix(3).map { "\($0.key): \($0.found) vs \($0.expected)" }.joined(separator: ", ") + ")")
        }
        return parts.isEmpty ? "matches" : parts.joined(separator: "; ")
    }

    private enum CodingKeys: String, CodingKey {
        case model, arch, arguments, missingKeys = "missing_keys", unexpectedKeys = "unexpected_keys"
        case shapeMismatches = "shape_mismatches", differences
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(label, forKey: .model)
        try container.encode(architecture.name, forKey: .arch)
        try container.encode(arguments, forKey: .arguments)
        try container.encode(missingKeys, forKey: .missingKeys)
        try container.encode(unexpectedKeys, forKey: .unexpectedKeys)
        try container.encode(shapeMismatches, forKey: .shapeMismatches)
        try container.encode(differences, forKey: .differences)
    }
}

extension Registry {
    /// `name(arg=value, ...)`.
    public static func label(_ architecture: Architecture, _ arguments: [String: Int]) -> String {
        let text = architecture.arguments.map { "\($0.name)=\(arguments[$0.name] ?? $0.defaultValue)" }.joined(separator: ", ")
        return "\(architecture.name)(\(text))"
    }

    /// Every registry entry scored against `stateDict`, best first; constructor arguments are
    /// inferred from shapes (num_classes from the classifier, in_channels and base from the first conv).
    public static func candidates(for stateDict: StateDict) -> [Candidate] {
        let scored = all.compactMap { architecture -> Candidate? in
            let arguments = architecture.inferArguments(from: stateDict) ?? (try? architecture.resolvedArguments([:])) ?? [:]
            guard let expected = try? architecture.expectedTensors(arguments) else { return nil }
            let report = LoadReport(modelName: architecture.name, expected: expected, stateDict: stateDict)
            return Candidate(
                architecture: architecture, arguments: arguments, missingKeys: report.missingKeys,
                unexpectedKeys: report.unexpectedKeys, shapeMismatches: report.shapeMismatches)
        }
        // Ties keep registry order, so the listing is the same on every run.
        return scored.enumerated().sorted { ($0.element.differenceCount, $0.offset) < ($1.element.differenceCount, $1.offset) }.map(
            \.element)
    }

    /// The one registry entry that matches exactly, or an error that lists the nearest candidates.
    public static func recognise(_ stateDict: StateDict) throws -> Candidate {
        let ranked = candidates(for: stateDict)
        let exact = ranked.filter(\.isExact)
        if exact.count == 1 { return exact[0] }
        if exact.count > 1 {
            throw ModelZooError.ambiguous(matches: exact)
        }
        throw ModelZooError.unrecognised(keyCount: stateDict.count, nearest: Array(ranked.prefix(3)))
    }
}
