import Checkpoint
import Crypto
import Foundation
import JSON
import Tensor
import TestSupport
import Testing

/// Signed checkpoints: who made a file, and that nothing it covers changed since.
@Suite("Signing")
struct SigningTests {
    private func keyPair(in folder: URL, _ name: String = "key") throws -> String {
        let path = folder.appendingPathComponent(name).path
        let result = try zoo("keygen", "--output", path)
        #expect(result.status == 0, "\(result.all)")
        return path
    }

    private func signedCopy(of file: String, in folder: URL, key: String) throws -> String {
        let path = folder.appendingPathComponent(URL(fileURLWithPath: file).lastPathComponent).path
        try FileManager.default.copyItem(atPath: file, toPath: path)
        let result = try zoo("sign", path, "--key", key)
        #expect(result.status == 0, "\(result.all)")
        return path
    }

    @Test func keygenWritesRawKeysWithAPrivateMode() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("alice").path
        let result = try zoo("keygen", "--output", path)
        #expect(result.status == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let publicKey = try #require(
            Data(base64Encoded: try String(contentsOfFile: path + ".pub", encoding: .utf8).trimmingCharacters(in: .newlines)))
        let privateKey = try #require(
            Data(base64Encoded: try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .newlines)))
        #expect(try Curve25519.Signing.PrivateKey(rawRepresentation: privateKey).publicKey.rawRepresentation == publicKey)
        let fingerprint = SHA256.hash(data: publicKey).map { String(format: "%02x", $0) }.joined().prefix(16)
        #expect(result.stdout.contains("fingerprint \(fingerprint)"))
        #expect(try zoo("keygen", "--output", path).status == 2, "an existing key is never overwritten")
    }

    @Test(arguments: zooCheckpoints())
    func everyZooFileVerifiesAfterSigning(file: String) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = try keyPair(in: folder)
        let path = try signedCopy(of: "Zoo/\(file)", in: folder, key: key)
        let result = try zoo("verify", path, "--trust", key + ".pub")
        #expect(result.status == 0, "\(result.all)")
        #expect(result.stdout.contains("a trusted key ok"))
        let untrusted = try zoo("verify", path)
        #expect(untrusted.stdout.contains("(signature valid, key not checked)"))
    }

    @Test func untrustedKeysAndUnsignedFilesFailWithTrust() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let alice = try keyPair(in: folder, "alice")
        let keys = folder.appendingPathComponent("keys")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        let bob = try keyPair(in: keys, "bob")
        let path = try signedCopy(of: "Zoo/net.h5", in: folder, key: alice)
        #expect(try zoo("verify", path, "--trust", bob + ".pub").status == 1)
        #expect(try zoo("verify", path, "--trust-dir", keys.path).status == 1)
        try FileManager.default.copyItem(atPath: alice + ".pub", toPath: keys.appendingPathComponent("alice.pub").path)
        #expect(try zoo("verify", path, "--trust-dir", keys.path).status == 0)
        let unsigned = try zoo("verify", "Zoo/net.h5", "--trust", alice + ".pub")
        #expect(unsigned.status == 1)
        #expect(unsigned.stdout.contains("unsigned, and --trust asks for a signature"))
        #expect(try zoo("inspect", path).stdout.contains("signed by: "))
    }

    @Test func changesSinceSigningAreNamed() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = try keyPair(in: folder)
        let path = try signedCopy(of: "Zoo/digits.h5", in: folder, key: key)
        let signed = try CheckpointReader.read(path)
        // Rewrite the file with one value changed, keeping the old signature, as a forger would.
        var stateDict = signed.stateDict
        var weights = try #require(stateDict["fc2.bias"]).scalars
        weights[0] += 0.5
        stateDict["fc2.bias"] = Tensor(shape: [weights.count], scalars: weights)
        try CheckpointWriter.write(
            stateDict, manifest: try #require(signed.manifest), referenceCases: signed.referenceCases, evalSet: signed.evalSet,
            signature: signed.signatureText, to: path)
        let result = try zoo("verify", path, "--json")
        #expect(result.status == 1)
        let report = try JSONValue.parse(result.stdout)
        #expect(report["signature"]?["state"] == .string("invalid"))
        #expect(report["signature"]?["changed"]?.arrayValue?.contains(.string("tensor fc2.bias")) == true)
    }

    @Test func badKeysAreUsageErrors() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = try keyPair(in: folder)
        let copy = folder.appendingPathComponent("net.h5").path
        try FileManager.default.copyItem(atPath: "Zoo/net.h5", toPath: copy)
        let garbage = folder.appendingPathComponent("garbage.pub").path
        try "not a key\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        for arguments in [
            ["sign", copy, "--key", key + ".pub"], ["sign", copy, "--key", folder.appendingPathComponent("missing").path],
            ["verify", copy, "--trust", key], ["verify", copy, "--trust", garbage],
        ] {
            let result = try runZoo(arguments)
            #expect(result.status == 2, "\(arguments): \(result.all)")
            #expect(result.stderr.hasPrefix("error: "))
            #expect(result.stderr.split(separator: "\n").count == 1, "one clear line: \(result.stderr)")
        }
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: copy)) == Data(contentsOf: URL(fileURLWithPath: "Zoo/net.h5")), "nothing was written")
    }

    @Test func resigningReplacesTheSignature() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let alice = try keyPair(in: folder, "alice")
        let bob = try keyPair(in: folder, "bob")
        let path = try signedCopy(of: "Zoo/cnnmodel.h5", in: folder, key: alice)
        let again = try zoo("sign", path, "--key", bob)
        #expect(again.stdout.contains("replacing its previous signature"))
        #expect(try zoo("verify", path, "--trust", bob + ".pub").status == 0)
        #expect(try zoo("verify", path, "--trust", alice + ".pub").status == 1)
    }
}
