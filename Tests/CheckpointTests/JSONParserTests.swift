import Foundation
import JSON
import TestSupport
import Testing

/// zoo's JSON reader agrees with Foundation's decoder on real documents and on the corners of
/// the grammar, and refuses what is not JSON with the offset where it stops being JSON.
@Suite("JSONParser")
struct JSONParserTests {
    static let documents = [
        #"{"a": [1, -2, 3.5, -4e-3, 1E+2, true, false, null], "b": {"c": "d"}, "e": []}"#,
        #""quote \" backslash \\ slash \/ controls \b\f\n\r\t unicode \u00e9 \u4e2d surrogates \ud83d\ude00 end""#,
        #"[{}, [], "", 0, -0, 9223372036854775807, 1.7976931348623157e308, 5e-324]"#,
        "  [ 1 ,\n\t2 ]  ",
        #"{"päth": "naïve ✓", "nested": [[[[["deep"]]]]]}"#,
    ]

    @Test(arguments: documents)
    func agreesWithFoundationsDecoder(text: String) throws {
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(try JSONValue.parse(text) == foundation)
    }

    /// A torch.export program and a manifest, read both ways.
    @Test(arguments: ["Tests/CheckpointTests/Fixtures/pt2/expected.json"])
    func agreesOnFixtureFiles(path: String) throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
        #expect(try JSONValue.parse(text) == JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))
    }

    @Test(arguments: [
        ("", 0), ("[1, 2", 5), ("{\"a\" 1}", 5), ("[1] x", 4), ("\"abc", 4), ("[tru]", 1), ("\"\\x\"", 3), ("\"\\ud800\"", 7),
        ("[-]", 1), ("\"a\nb\"", 2),
    ])
    func refusesWhatIsNotJSON(text: String, offset: Int) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        #expect(error?.offset == offset, "\(text): \(String(describing: error))")
    }

    /// Keeping some paths reads the same values there, drops the rest, and refuses what is not
    /// JSON as the whole parse does, at the same byte: skipped values are checked as thoroughly.
    @Test func keepingSomePathsKeepsTheirValuesOnly() throws {
        let text = #"{"a": {"b": [{"c": 1, "d": [2, {"e": "x"}]}, {"c": "y"}], "f": 3}, "g": {"h": {"c": 4}, "i": {"c": 5}}}"#
        let kept = try JSONValue.parse(text, keeping: [["a", "b", "c"], ["g", "*", "c"]])
        #expect(
            kept
                == .object([
                    "a": .object(["b": .array([.object(["c": .int(1)]), .object(["c": .string("y")])])]),
                    "g": .object(["h": .object(["c": .int(4)]), "i": .object(["c": .int(5)])]),
                ]))
        #expect(try JSONValue.parse(text, keeping: [["a"]]) == .object(["a": try JSONValue.parse(text)["a"]!]))
        for (bad, offset) in [(#"{"a": 1, "z": [1, tru]}"#, 18), (#"{"z": {"y": "\x"}}"#, 15), (#"{"z": [1 2]}"#, 9)] {
            let whole = #expect(throws: JSONParseError.self) { try JSONValue.parse(bad) }
            let pruned = #expect(throws: JSONParseError.self) { try JSONValue.parse(bad, keeping: [["a"]]) }
            #expect(whole?.offset == offset && pruned == whole, "\(bad): \(String(describing: whole)), \(String(describing: pruned))")
        }
    }

    /// Handing an object's members on gives each, in the text's order, as keeping them would have
    /// kept it, and leaves them out of the value returned; what is not JSON is refused alike.
    @Test func handedMembersAreTheKeptMembersOneByOne() throws {
        let text = #"{"v": 1, "config": {"w1": {"p": "a", "m": {"s": [1, 2], "x": 0}}, "w0": {"p": "b", "m": {"s": []}}}, "z": {"w1": 3}}"#
        let paths = [["v"], ["config", "*", "p"], ["config", "*", "m", "s"]]
        var handed: [(String, JSONValue)] = []
        let rest = try JSONValue.parse(text, keeping: paths, handing: ["config"]) { handed.append(($0, $1)) }
        let kept = try JSONValue.parse(text, keeping: paths)
        #expect(handed.map(\.0) == ["w1", "w0"])
        #expect(handed.map(\.1) == ["w1", "w0"].map { kept["config"]?[$0] ?? .null })
        #expect(rest == .object(["v": .int(1), "config": .object([:])]))
        let bad = #"{"config": {"w1": {"p": "a"}, "w2": {"p": tru}}}"#
        let whole = #expect(throws: JSONParseError.self) { try JSONValue.parse(bad) }
        let streamed = #expect(throws: JSONParseError.self) { try JSONValue.parse(bad, keeping: paths, handing: ["config"]) { _, _ in } }
        #expect(streamed == whole)
    }

    /// Several collections handed on at once, arrays among them: each item or member goes to the
    /// body in the order of the text, with its collection and its index or key, as what the whole
    /// parse keeps of it; the collections are left empty, the rest kept as ``parse(_:keeping:)`` keeps it.
    @Test func arraysAndObjectsAreHandedOnTogether() throws {
        let text = #"""
            {"g": {"values": {"a": {"s": [1], "x": 2}, "b": {"s": []}}, "nodes": [1]},
             "sig": {"specs": [{"p": {"n": "a"}}, [1, [2]], {"u": 3}], "other": [4]}}
            """#
        let paths = [["g", "values", "*", "s"], ["g", "nodes"], ["sig", "specs"]]
        var handed: [(Int, String, JSONValue)] = []
        let rest = try JSONValue.parse(text, keeping: paths, handingEach: [["sig", "specs"], ["g", "values"]]) {
            handed.append(($0, $1, $2))
        }
        let kept = try JSONValue.parse(text, keeping: paths)
        #expect(handed.map(\.0) == [1, 1, 0, 0, 0])
        #expect(handed.map(\.1) == ["a", "b", "0", "1", "2"])
        let specs = kept["sig"]?["specs"]?.arrayValue ?? []
        #expect(handed.map(\.2) == [kept["g"]?["values"]?["a"] ?? .null, kept["g"]?["values"]?["b"] ?? .null] + specs)
        #expect(specs.count == 3)
        let graph = JSONValue.object(["values": .object([:]), "nodes": .array([.int(1)])])
        #expect(rest == .object(["g": graph, "sig": .object(["specs": .array([])])]))
        let bad = #"{"sig": {"specs": [{"p": 1}, {"p": tru}]}}"#
        let whole = #expect(throws: JSONParseError.self) { try JSONValue.parse(bad) }
        let streamed = #expect(throws: JSONParseError.self) {
            try JSONValue.parse(bad, keeping: paths, handingEach: [["sig", "specs"]]) { _, _, _ in }
        }
        #expect(streamed == whole)
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        let allowed = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect((try? JSONValue.parse(allowed)) != nil)
    }
}

/// ``JSONText`` writes what the parser reads back: every escape, sorted keys, integers.
@Suite("JSONText")
struct JSONTextTests {
    @Test(arguments: ["plain", "quote \" and back\\slash", "line\nfeed\r\ttab", "control \u{01}\u{1F} and / slash", "ünïcödé ✓", ""])
    func aStringRoundTrips(_ value: String) throws {
        var text = JSONText()
        text.object(["b": value, "a": value]) { $0.string($1) }
        let written = String(decoding: text.bytes, as: UTF8.self)
        #expect(written.hasPrefix("{\"a\":"), "\(written)")
        #expect(try JSONValue.parse(written) == .object(["a": .string(value), "b": .string(value)]))
    }

    @Test func integersAreAnArray() throws {
        var text = JSONText()
        text.integers([3, -1, 0, 1 << 40])
        #expect(try JSONValue.parse(String(decoding: text.bytes, as: UTF8.self)) == .array([.int(3), .int(-1), .int(0), .int(1 << 40)]))
    }
}
