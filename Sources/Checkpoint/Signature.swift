import Crypto
import Foundation
import JSON
import Tensor

/// A checkpoint's `__signature__`: an Ed25519 signature over the signed payload (below), with
/// the signer's public key.
public struct SignatureRecord: Sendable, Equatable {
    /// The HDF5 dataset (and safetensors `__metadata__` key `zoo_signature`) that holds it.
    public static let datasetName = "__signature__"
    public static let algorithm = "ed25519"

    public var publicKey: Data
    public var signature: Data
    public var payloadSHA256: String
    /// The payload text that was signed, kept so that a failed check can say what changed.
    public var payload: String

    /// `{"algorithm":"ed25519","payload":...,"payload_sha256":...,"public_key":...,"signature":...}`.
    public var json: String {
        JSONValue.object([
            "algorithm": .string(Self.algorithm), "public_key": .string(publicKey.base64EncodedString()),
            "signature": .string(signature.base64EncodedString()), "payload_sha256": .string(payloadSHA256),
            "payload": .string(payload),
        ]).serialized()
    }

    public init(publicKey: Data, signature: Data, payloadSHA256: String, payload: String) {
        self.publicKey = publicKey
        self.signature = signature
        self.payloadSHA256 = payloadSHA256
        self.payload = payload
    }

    public init(json text: String) throws(SignatureError) {
        guard let value = try? JSONValue.parse(text), let algorithm = value["algorithm"]?.stringValue else {
            throw .malformed("__signature__ is not a JSON object with an algorithm")
        }
        guard algorithm == Self.algorithm else { throw .malformed("__signature__ uses algorithm '\(algorithm)'; zoo checks ed25519") }
        guard let key = value["public_key"]?.stringValue.flatMap({ Data(base64Encoded: $0) }), key.count == 32,
            let signature = value["signature"]?.stringValue.flatMap({ Data(base64Encoded: $0) }), signature.count == 64,
            let digest = value["payload_sha256"]?.stringValue, let payload = value["payload"]?.stringValue
        else { throw .malformed("__signature__ lacks a 32-byte public_key, a 64-byte signature, payload_sha256 or payload") }
        self.init(publicKey: key, signature: signature, payloadSHA256: digest, payload: payload)
    }

    /// The first 16 hex digits of the SHA-256 of the raw public key.
    public var fingerprint: String { SigningKeys.fingerprint(of: publicKey) }
}

/// Why signing or checking a signature failed.
public enum SignatureError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case key(path: String, reason: String)
    /// A key that should be public is named without `.pub`: most likely the private key.
    case notAPublicKeyName(path: String)

    public var description: String {
        switch self {
        case .malformed(let reason): return reason
        case .key(let path, let reason): return "\(path): \(reason)"
        case .notAPublicKeyName(let path): return "\(path): looks like a private key (no .pub); a public key is needed, e.g. \(path).pub"
        }
    }
}

/// The text a signature covers, byte for byte (UTF-8, each line ending in LF):
///
/// ```
/// zoo-signature-v1
/// manifest <sha256 of the manifest's JSON exactly as stored>
/// tensor <dtype> <shape> <sha256> <key>            (every tensor, keys in UTF-8 byte order)
/// test <name>/input <dtype> <shape> <sha256>       (every __tests__ pair, in order)
/// test <name>/output <dtype> <shape> <sha256> atol=<bits> rtol=<bits>
/// eval inputs|labels|predictions <dtype> <shape> <sha256>   (when __eval__ is present)
/// ```
///
/// `<shape>` is `[2,3]` (`[]` for a scalar); `<sha256>` is the lowercase hex SHA-256 of the
/// little-endian row-major bytes in the stored dtype, as the manifest records it; `<bits>` is
/// the 16 lowercase hex digits of the tolerance's IEEE 754 binary64 bit pattern, or `-` when the
/// file states none.
public enum SignedPayload {
    public static let header = "zoo-signature-v1"

    public static func text(of checkpoint: LoadedCheckpoint) -> String {
        text(
            manifestText: checkpoint.manifestText ?? "", stateDict: checkpoint.stateDict, referenceCases: checkpoint.referenceCases,
            evalSet: checkpoint.evalSet)
    }

    public static func text(manifestText: String, stateDict: StateDict, referenceCases: [ReferenceCase], evalSet: EvalSet?) -> String {
        var lines = [header, "manifest \(sha256Hex(Array(manifestText.utf8)))"]
        for key in stateDict.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            guard let tensor = stateDict[key] else { continue }
            lines.append("tensor \(describe(tensor)) \(key)")
        }
        for referenceCase in referenceCases {
            lines.append("test \(referenceCase.name)/input \(describe(referenceCase.input))")
            lines.append(
                "test \(referenceCase.name)/output \(describe(referenceCase.output)) atol=\(bits(referenceCase.absoluteTolerance)) "
                    + "rtol=\(bits(referenceCase.relativeTolerance))")
        }
        if let evalSet {
            lines.append("eval inputs \(describe(evalSet.inputs))")
            for (name, values) in [("labels", evalSet.labels), ("predictions", evalSet.predictions)] {
                let tensor = (try? Tensor(shape: [values.count], storage: .int64(values))) ?? Tensor(zeros: [0], dtype: .int64)
                lines.append("eval \(name) \(describe(tensor))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func describe(_ tensor: Tensor) -> String {
        "\(tensor.dtype.rawValue) [\(tensor.shape.map(String.init).joined(separator: ","))] \(tensor.sha256)"
    }

    private static func bits(_ value: Double?) -> String {
        guard let value else { return "-" }
        let hex = String(value.bitPattern, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The lines of `signed` that `current` lacks: what changed since signing, by name.
    public static func changes(from signed: String, to current: String) -> [String] {
        let now = Set(current.split(separator: "\n"))
        let before = Set(signed.split(separator: "\n"))
        var named: [String] = []
        for line in signed.split(separator: "\n") where !now.contains(line) {
            let parts = line.split(separator: " ")
            switch parts.first {
            case "manifest": named.append("the manifest")
            case "tensor": named.append("tensor \(parts.dropFirst(4).joined(separator: " "))")
            case "test", "eval": named.append("\(parts[0]) \(parts.count > 1 ? String(parts[1]) : "")")
            default: named.append(String(line))
            }
        }
        for line in current.split(separator: "\n") where !before.contains(line) {
            let parts = line.split(separator: " ")
            if parts.first == "tensor" && !named.contains("tensor \(parts.dropFirst(4).joined(separator: " "))") {
                named.append("tensor \(parts.dropFirst(4).joined(separator: " ")) (added)")
            }
        }
        return named
    }
}

/// Ed25519 key files: the base64 of the raw 32-byte key on one line; the public key in NAME.pub,
/// the private key in NAME (mode 0600). A path ending in `.pub` is a public key, any other a
/// private one.
public enum SigningKeys {
    public static func fingerprint(of publicKey: Data) -> String { String(sha256Hex(publicKey).prefix(16)) }

    /// Writes a new key pair; refuses to overwrite an existing key. Returns the public key.
    public static func generate(privatePath: String) throws(SignatureError) -> Data {
        let publicPath = privatePath + ".pub"
        for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw .key(path: path, reason: "already exists; zoo keygen never overwrites a key")
        }
        let key = Curve25519.Signing.PrivateKey()
        try write(key.rawRepresentation.base64EncodedString() + "\n", to: privatePath, mode: 0o600)
        try write(key.publicKey.rawRepresentation.base64EncodedString() + "\n", to: publicPath, mode: 0o644)
        return key.publicKey.rawRepresentation
    }

    public static func privateKey(at path: String) throws(SignatureError) -> Curve25519.Signing.PrivateKey {
        if path.hasSuffix(".pub") {
            throw .key(path: path, reason: "is a public key; signing needs the private key (the same name without .pub)")
        }
        let raw = try rawKey(at: path)
        do { return try Curve25519.Signing.PrivateKey(rawRepresentation: raw) } catch {
            throw .key(path: path, reason: "is not an Ed25519 private key")
        }
    }

    public static func publicKey(at path: String) throws(SignatureError) -> Data {
        guard path.hasSuffix(".pub") else {
            throw .notAPublicKeyName(path: path)
        }
        let raw = try rawKey(at: path)
        guard (try? Curve25519.Signing.PublicKey(rawRepresentation: raw)) != nil else {
            throw .key(path: path, reason: "is not an Ed25519 public key")
        }
        return raw
    }

    /// Every `.pub` key in a folder.
    public static func publicKeys(inFolder folder: String) throws(SignatureError) -> [Data] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw .key(path: folder, reason: "is not a readable folder of .pub keys")
        }
        var keys: [Data] = []
        for name in names.sorted() where name.hasSuffix(".pub") {
            keys.append(try publicKey(at: (folder as NSString).appendingPathComponent(name)))
        }
        guard !keys.isEmpty else { throw .key(path: folder, reason: "holds no .pub keys") }
        return keys
    }

    private static func rawKey(at path: String) throws(SignatureError) -> Data {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .key(path: path, reason: "cannot be read") }
        let lines = text.split(whereSeparator: \.isNewline)
        guard lines.count == 1, let raw = Data(base64Encoded: String(lines[0]).trimmingCharacters(in: .whitespaces)), raw.count == 32 else {
            throw .key(path: path, reason: "is not a key file (one line: the base64 of a raw 32-byte key)")
        }
        return raw
    }

    private static func write(_ text: String, to path: String, mode: mode_t) throws(SignatureError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard descriptor >= 0 else { throw .key(path: path, reason: "cannot be created: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Foundation.write(descriptor, $0.baseAddress, $0.count) }) == bytes.count, fsync(descriptor) == 0
        else {
            throw .key(path: path, reason: "cannot be written: \(String(cString: strerror(errno)))")
        }
    }
}
