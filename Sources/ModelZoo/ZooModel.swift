import Checkpoint
import Foundation
import NN
import Pictures
import Tensor

/// A checkpoint opened as a runnable model: the one way into zoo for a Swift program.
///
/// Open any file zoo reads (HDF5 format v1 or an h5py export, torch.save, safetensors); zoo picks
/// the model (the manifest's `arch` or `model_config`, else the registry recognises the keys and
/// shapes) and loads the weights strictly, as PyTorch's `load_state_dict(strict=True)`:
///
/// ```swift
/// import ModelZoo
///
/// let model = try ZooModel(contentsOf: "Zoo/digits.h5")
/// for prediction in try model.classify(pictures: ["digit.png"], top: 3) {
///     for score in prediction.top { print(score.name ?? "\(score.index)", score.probability) }
/// }
/// let y = try model(Tensor(shape: [1, 1, 32, 32], scalars: Array(repeating: 0, count: 1024)))
/// print(model.verify().passed)
/// ```
///
/// For files you did not make, read them with ``FileReading/contained(reader:timeout:)``: a
/// crafted file that crashes or hangs a C library then fails with an error instead of taking
/// your process down.
public final class ZooModel {
    /// What was read: tensors, manifest, reference vectors, the held-out set.
    public let checkpoint: LoadedCheckpoint
    /// The model the weights were loaded into, and how it was chosen.
    public let resolved: ResolvedModel
    /// How this model's file, and the pictures it is given, are read.
    public let reading: FileReading

    /// Reads the checkpoint at `path` and loads it strictly into its model. `architecture` names a
    /// registry model (`"resnet18"`) to use instead of the file's own description.
    public init(contentsOf path: String, architecture: String? = nil, reading: FileReading = .inProcess) throws(ZooModelError) {
        do { checkpoint = try reading.checkpoint(at: path) } catch { throw .unreadable(error) }
        do { resolved = try ModelResolver.resolve(checkpoint, arch: architecture) } catch {
            throw .noModel(path: path, error)
        }
        do { try resolved.loadStrictly(checkpoint) } catch { throw .doesNotLoad(path: path, error) }
        self.reading = reading
    }

    /// Reads the checkpoint at `url` (a file URL); see ``init(contentsOf:architecture:reading:)-(String,_,_)``.
    public convenience init(contentsOf url: URL, architecture: String? = nil, reading: FileReading = .inProcess) throws(ZooModelError) {
        try self.init(contentsOf: url.path, architecture: architecture, reading: reading)
    }

    /// The file's path.
    public var path: String { checkpoint.path }
    /// The model as PyTorch prints its class: `graycnn(num_classes=10)`.
    public var name: String { resolved.label }
    /// The class names (index order): the file's, else those of torchvision's weights for a
    /// recognised torchvision classifier.
    public var classes: [String]? { PictureRunner.classes(for: checkpoint, model: resolved) }

    /// An eval-mode forward pass. A registry model also takes one sample without its batch axis
    /// (`(3, 32, 32)` in gives `(10)` out).
    public func callAsFunction(_ input: Tensor) throws(ZooModelError) -> Tensor {
        do { return try resolved.run(input) } catch let error as MemoryAdmissionError {
            throw .insufficientMemory(path: path, error)
        } catch { throw .forward(path: path, error) }
    }

    /// How a picture becomes the model's input: the file's `preprocess`, else for a recognised
    /// torchvision model its weights' transforms, else the standard one for the model's channels
    /// (grey or RGB, ToTensor scaling, no resize); ``ChosenPreprocess/origin`` says which.
    public func chosenPreprocess() throws(ZooModelError) -> ChosenPreprocess {
        do { return try PictureRunner.choosePreprocess(for: checkpoint, model: resolved) } catch { throw .pictures(error) }
    }

    /// The preprocess ``chosenPreprocess()`` chooses.
    public func preprocess() throws(ZooModelError) -> Preprocess { try chosenPreprocess().preprocess }

    /// Decodes `pictures` (PNG, JPEG) as ``reading`` says, preprocesses them and runs them as one batch.
    public func run(pictures: [String]) throws(ZooModelError) -> Tensor {
        try self(try batch(pictures: pictures))
    }

    /// Decodes `pictures` as ``reading`` says and preprocesses them into one input batch.
    public func batch(pictures: [String]) throws(ZooModelError) -> Tensor {
        let reading = self.reading
        let preprocess = try preprocess()
        do {
            return try PictureRunner.batch(
                pictures, preprocess: preprocess, checkpointPath: path,
                decode: { path throws(PictureError) in try reading.picture(at: path) })
        } catch { throw .pictures(error) }
    }

    /// Each picture's `k` most probable classes (softmax over a classifier's `(N, classes)`
    /// output), named from the file's classes.
    public func classify(pictures: [String], top k: Int = 5) throws(ZooModelError) -> [PicturePrediction] {
        let output = try run(pictures: pictures)
        guard output.rank == 2, k > 0 else { throw .notAClassifier(path: path, outputShape: output.shape) }
        return PictureRunner.top(k, of: output, images: pictures, classes: classes)
    }

    /// Every check `zoo verify` makes: keys, shapes, dtypes, checksums, finite values, forward
    /// passes on the file's reference vectors and the held-out set, and the signature.
    public func verify(options: VerificationOptions = VerificationOptions()) -> VerificationReport {
        Verifier.verify(checkpoint, options: options)
    }

    /// Writes the checkpoint as HDF5 format v1 (`.h5`) or safetensors (`.safetensors`), by the
    /// extension, atomically.
    @discardableResult
    public func convert(to path: String) throws(ConversionError) -> ConversionReport {
        try Converter.convert(checkpoint, to: path)
    }

    /// Signs the file in place (atomically) with the Ed25519 private key at `keyPath`.
    @discardableResult
    public func sign(withKeyAt keyPath: String) throws(SigningError) -> SigningReport {
        try Signer.sign(path, checkpoint: checkpoint, keyPath: keyPath)
    }
}

/// Why a checkpoint could not be opened or run as a model.
public enum ZooModelError: Error, CustomStringConvertible {
    /// The file is not a checkpoint zoo reads, or is damaged, refused, or stopped the reader.
    case unreadable(CheckpointError)
    /// No model fits: the file names none zoo knows and no registry model matches its keys.
    /// `underlying` is a ``ModelZooError`` (its ``ModelZooError/candidates`` name the nearest
    /// registry models) or the `model_config`'s error.
    case noModel(path: String, any Error)
    /// The weights do not load strictly (missing, unexpected, misshapen or mistyped keys, failed checksums).
    case doesNotLoad(path: String, StrictLoadError)
    case pictures(PictureRunError)
    case forward(path: String, any Error)
    /// The pass would need more memory than this process may use; nothing was allocated.
    case insufficientMemory(path: String, MemoryAdmissionError)
    /// Top-K classes asked of a model whose output is not `(N, classes)`.
    case notAClassifier(path: String, outputShape: [Int])

    public var description: String {
        switch self {
        case .unreadable(let error): return error.description
        case .noModel(let path, let error): return "cannot choose a model for \(path): \(error)"
        case .doesNotLoad(let path, let error): return "\(path) does not load strictly: \(error)"
        case .pictures(let error): return error.description
        case .forward(let path, let error): return "\(path): the forward pass failed: \(error)"
        case .insufficientMemory(let path, let error): return "\(path): the forward pass \(error)"
        case .notAClassifier(let path, let shape): return "\(path): the output \(shape) is not (N, classes); it has no classes to rank"
        }
    }
}
