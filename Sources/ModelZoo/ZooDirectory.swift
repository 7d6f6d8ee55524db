import Checkpoint
import Crypto
import Foundation

/// A checkpoint found in a zoo folder, summarised for `zoo list`.
public struct ZooEntry: Sendable {
    public var path: String
    public var arch: String?
    public var parameterCount: Int?
    public var byteCount: Int
    public var sha256: String
    /// Why the file could not be summarised, when it could not.
    public var problem: String?
}

public enum ZooDirectory {
    /// Every `.h5` file directly in `folder`, sorted by name.
    public static func scan(_ folder: String) -> [ZooEntry] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".h5") }.sorted()
        return names.map { name in
            let path = (folder as NSString).appendingPathComponent(name)
            let data = FileManager.default.contents(atPath: path) ?? Data()
            let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            var entry = ZooEntry(path: path, arch: nil, parameterCount: nil, byteCount: data.count, sha256: digest, problem: nil)
            do {
                let checkpoint = try CheckpointReader.read(path)
                let resolved = try ModelResolver.resolve(checkpoint)
                entry.arch = resolved.label
                entry.parameterCount = resolved.model.parameterCount
            } catch {
                entry.problem = "\(error)"
            }
            return entry
        }
    }
}
