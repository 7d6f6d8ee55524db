import Checkpoint
import Foundation
import Pictures
import Tensor

extension TrainingSet {
    /// Examples from two `.npy` arrays: inputs `(N, ...)` (float32 or float64) and targets
    /// `(N, ...)` (class indices, or values for a regression loss).
    public static func arrays(inputs: String, targets: String) throws -> TrainingSet {
        try TrainingSet(inputs: NumPyFile.read(inputs).converted(to: .float32), targets: NumPyFile.read(targets))
    }

    /// torchvision's `ImageFolder`: one sub-folder per class, the sorted folder names being the
    /// class indices, the pictures of each (PNG, JPEG) in sorted name order, each fed through the
    /// model's `preprocess` (decoded as the model's file is read: in process or contained).
    public static func imageFolder(_ folder: String, model: ZooModel) throws -> TrainingSet {
        let manager = FileManager.default
        let root = URL(fileURLWithPath: folder)
        let byCodePoint = { (a: String, b: String) in a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) }
        guard let entries = try? manager.contentsOfDirectory(atPath: folder) else {
            throw TrainingError.data("\(folder) is not a readable folder")
        }
        let classes = entries.filter { name in
            var isFolder: ObjCBool = false
            return !name.hasPrefix(".") && manager.fileExists(atPath: root.appendingPathComponent(name).path, isDirectory: &isFolder)
                && isFolder.boolValue
        }.sorted(by: byCodePoint)
        guard !classes.isEmpty else { throw TrainingError.data("\(folder) has no class folders (ImageFolder: one folder per class)") }
        let extensions: Set<String> = ["png", "jpg", "jpeg"]
        var paths: [String] = []
        var labels: [Int64] = []
        for (index, name) in classes.enumerated() {
            let classFolder = root.appendingPathComponent(name)
            let files = ((try? manager.contentsOfDirectory(atPath: classFolder.path)) ?? []).filter {
                extensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased())
            }.sorted(by: byCodePoint)
            paths += files.map { classFolder.appendingPathComponent($0).path }
            labels += Array(repeating: Int64(index), count: files.count)
        }
        guard !paths.isEmpty else { throw TrainingError.data("\(folder) holds no .png or .jpg pictures in its class folders") }
        let inputs = try model.batch(pictures: paths)
        return try TrainingSet(inputs: inputs, targets: try Tensor(shape: [labels.count], storage: .int64(labels)), classes: classes)
    }
}
