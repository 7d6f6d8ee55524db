import Crypto
import Tensor

extension Tensor {
    /// Lowercase hex SHA-256 over the little-endian row-major bytes in the stored dtype, as the
    /// format's manifest records it (`hashlib.sha256(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())`).
    public var sha256: String {
        SHA256.hash(data: littleEndianBytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
