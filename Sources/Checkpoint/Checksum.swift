import Crypto
import Foundation
import Tensor

extension Tensor {
    /// Lowercase hex SHA-256 over the little-endian row-major bytes in the stored dtype, as the
    /// format's manifest records it
    /// (`hashlib.sha256(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())`).
    public var sha256: String {
        // Straight from the storage where its bytes are already little-endian: no copy of the tensor.
        hostIsLittleEndian ? storage.withUnsafeBytes { sha256Hex($0) } : sha256Hex(littleEndianBytes)
    }
}

/// Lowercase hex of the SHA-256 of `bytes`: the one spelling of a digest in manifests and reports.
public func sha256Hex(_ bytes: some DataProtocol) -> String {
    hex(SHA256.hash(data: bytes))
}

/// Lowercase hex of the SHA-256 of a file's bytes, read in 1 MiB pieces so that memory does not
/// grow with the file. Nil when the file cannot be opened or read.
public func sha256Hex(ofFileAt path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    var hasher = SHA256()
    do {
        while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty { hasher.update(data: piece) }
    } catch {
        return nil
    }
    return hex(hasher.finalize())
}

private func hex(_ digest: SHA256.Digest) -> String {
    digest.map { byte in byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined()
}
