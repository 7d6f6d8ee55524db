import Checkpoint
import Crypto
import Foundation

/// What a checkpoint's signature proves.
public struct SignatureCheck: Sendable, Encodable {
    public enum State: String, Sendable, Encodable {
        case unsigned
        /// The signature matches the file as it is now.
        case valid
        /// The file changed since it was signed, or the signature is damaged.
        case invalid
    }

    public var state: State
    /// The signer's fingerprint, when the file names a signer.
    public var fingerprint: String?
    /// Whether the signer is among the trusted keys; nil when no keys were given.
    public var trusted: Bool?
    public var reason: String?
    /// What changed since signing, by name (`tensor conv1.weight`, `the manifest`, `test 0/output`).
    public var changed: [String] = []
    /// True when keys were given, so that only a valid signature by one of them passes.
    public var trustRequired: Bool

    public var passed: Bool {
        switch state {
        case .unsigned: return !trustRequired
        case .invalid: return false
        case .valid: return !trustRequired || trusted == true
        }
    }

    public var summary: String {
        switch state {
        case .unsigned: return trustRequired ? "FAILED: unsigned, and a trusted signature is required" : "unsigned"
        case .invalid:
            let what = changed.isEmpty ? "" : " (changed since signing: \(changed.prefix(5).joined(separator: ", ")))"
            return "FAILED: \(reason ?? "invalid")\(what)"
        case .valid:
            let signer = fingerprint ?? "?"
            guard trustRequired else { return "signed by \(signer) (signature valid, key not checked)" }
            return trusted == true
                ? "signed by \(signer), a trusted key ok" : "FAILED: signed by \(signer), which is not among the trusted keys"
        }
    }

    private enum CodingKeys: String, CodingKey { case state, fingerprint, trusted, reason, changed, passed }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
        try container.encodeIfPresent(fingerprint, forKey: .fingerprint)
        try container.encodeIfPresent(trusted, forKey: .trusted)
        try container.encodeIfPresent(reason, forKey: .reason)
        try container.encode(changed, forKey: .changed)
        try container.encode(passed, forKey: .passed)
    }
}

/// What `zoo sign` did.
public struct SigningReport: Sendable, Encodable {
    public var path: String
    public var fingerprint: String
    public var payloadSHA256: String
    public var replacedSignature: Bool

    private enum CodingKeys: String, CodingKey {
        case path, fingerprint, payloadSHA256 = "payload_sha256", replacedSignature = "replaced_signature"
    }
}

/// Why a file was not signed.
public enum SigningError: Error, Sendable, CustomStringConvertible {
    case key(SignatureError)
    case container(path: String, CheckpointContainer)
    case integrity(path: String, keys: [String])
    case write(CheckpointError)

    public var description: String {
        switch self {
        case .key(let error): return error.description
        case .container(let path, let container):
            return "\(path) is a \(container.rawValue) file; zoo signs HDF5 and safetensors checkpoints (zoo convert it first)"
        case .integrity(let path, let keys):
            return "\(path) fails its own checksums (\(keys.prefix(5).joined(separator: ", "))); signing would bless changed weights"
        case .write(let error): return error.description
        }
    }
}

public enum Signer {
    /// Checks `checkpoint`'s signature; with `trustedKeys`, only a valid signature by one of them passes.
    public static func check(_ checkpoint: LoadedCheckpoint, trustedKeys: [Data]?) -> SignatureCheck {
        var result = SignatureCheck(state: .unsigned, trustRequired: trustedKeys != nil)
        guard let text = checkpoint.signatureText else { return result }
        let record: SignatureRecord
        do { record = try SignatureRecord(json: text) } catch {
            result.state = .invalid
            result.reason = error.description
            return result
        }
        result.fingerprint = record.fingerprint
        let payload = SignedPayload.text(of: checkpoint)
        guard payload == record.payload else {
            result.state = .invalid
            result.reason = "the file changed since it was signed"
            result.changed = SignedPayload.changes(from: record.payload, to: payload)
            return result
        }
        let signedDigest = sha256Hex(Array(record.payload.utf8))
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: record.publicKey),
            key.isValidSignature(record.signature, for: Data(record.payload.utf8)), signedDigest == record.payloadSHA256
        else {
            result.state = .invalid
            result.reason = "the signature does not match its payload (forged or damaged)"
            return result
        }
        result.state = .valid
        if let trustedKeys { result.trusted = trustedKeys.contains(record.publicKey) }
        return result
    }

    /// Signs the checkpoint at `path` in place (atomically), with the private key at `keyPath`.
    public static func sign(_ path: String, checkpoint: LoadedCheckpoint, keyPath: String) throws(SigningError) -> SigningReport {
        let key: Curve25519.Signing.PrivateKey
        do { key = try SigningKeys.privateKey(at: keyPath) } catch { throw .key(error) }
        guard checkpoint.container == .hdf5 || checkpoint.container == .safetensors else {
            throw .container(path: path, checkpoint.container)
        }
        let integrity = IntegrityReport(checkpoint.stateDict, manifest: checkpoint.manifest, storedKeys: checkpoint.storedKeys)
        guard integrity.checksumMismatches.isEmpty else { throw .integrity(path: path, keys: integrity.checksumMismatches.map(\.key)) }
        // Tensors without a manifest checksum get one first: the manifest is written canonically.
        let manifest = CheckpointWriter.canonicalManifest(checkpoint.manifest ?? Manifest(), for: checkpoint.stateDict)
        let payload = SignedPayload.text(
            manifestText: manifest.json.serialized(), stateDict: checkpoint.stateDict, referenceCases: checkpoint.referenceCases,
            evalSet: checkpoint.evalSet)
        let signature: Data
        do { signature = try key.signature(for: Data(payload.utf8)) } catch {
            throw .key(.key(path: keyPath, reason: "cannot sign: \(error)"))
        }
        let record = SignatureRecord(
            publicKey: key.publicKey.rawRepresentation, signature: signature, payloadSHA256: sha256Hex(Array(payload.utf8)),
            payload: payload)
        do {
            try CheckpointWriter.write(
                checkpoint.stateDict, manifest: manifest, referenceCases: checkpoint.referenceCases, evalSet: checkpoint.evalSet,
                signature: record.json, to: path, format: checkpoint.container, metadata: checkpoint.metadata)
        } catch {
            throw .write(error)
        }
        return SigningReport(
            path: path, fingerprint: record.fingerprint, payloadSHA256: record.payloadSHA256,
            replacedSignature: checkpoint.signatureText != nil)
    }
}
