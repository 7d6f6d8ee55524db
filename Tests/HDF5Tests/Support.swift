import Foundation
import HDF5
import TestSupport

/// A fresh HDF5 file in a unique temporary folder (tests run in parallel), removed afterwards.
func withTemporaryFile<T>(_ body: (String) throws -> T) throws -> T {
    let folder = try makeTemporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    return try body(folder.appendingPathComponent("test.h5").path)
}

/// Writes `values` as a dataset of `type` and shape `shape`.
func write<T>(_ values: [T], _ name: String, shape: [Int], type: HDF5MemoryType, into group: HDF5Group) throws {
    _ = try values.withUnsafeBytes { try group.createDataset(name, shape: shape, type: type, elements: $0) }
}

/// Reads a dataset converted by HDF5 into `T`'s memory type.
func read<T>(_ dataset: HDF5Dataset, as type: HDF5MemoryType, _: T.Type) throws -> [T] {
    try dataset.read(as: type).withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
}
