import Foundation
import JSON
import NN
import Pictures
import Synchronization
import Tensor
@preconcurrency import ZIPFoundation

/// The torchvision models zoo recognises in a bare state_dict (`torch.save(model.state_dict(), ...)`
/// with no graph): each family's program, exported from torchvision by
/// `Tools/make_torchvision_programs.py` with a dynamic batch and picture size, graph only, and what
/// torchvision's DEFAULT weights say of it (their preprocess and category names).
///
/// The programs ship in `torchvision-programs.zip`, the ModelZoo target's one resource; a
/// state_dict is matched by its keys and every shape, so a fine-tuned head of another size is
/// not taken for the family (its program records the head's shapes).
public struct TorchvisionFamily: Sendable {
    public var name: String
    /// torchvision's weights enum the preprocess and categories come from (`ResNet50_Weights.IMAGENET1K_V2`).
    public var weights: String
    /// The preprocess torchvision's `weights.transforms()` runs, in the manifest's JSON form.
    public var preprocess: JSONValue
    public var categories: [String]
    /// The names of a model's outputs when it returns a dict (segmentation: `out`).
    public var outputNames: [String]?
    public var program: ExportedProgram

    /// The family whose program's parameters and buffers are exactly `stateDict`'s keys and
    /// shapes; nil when none is (or when the programs are not installed beside zoo).
    public static func recognise(_ stateDict: StateDict) throws -> TorchvisionFamily? {
        let catalogue = try TorchvisionCatalogue.shared()
        for (name, entry) in catalogue.families.sorted(by: { $0.key < $1.key }) where entry.keyCount == stateDict.count {
            let program = try catalogue.program(named: name)
            let matches = program.stateInputs.allSatisfy { input in
                stateDict[input.stateName].map { $0.shape == program.stateShape(of: input.argument) } ?? false
            }
            if matches && program.stateInputs.count == stateDict.count {
                return TorchvisionFamily(
                    name: name, weights: entry.weights, preprocess: entry.preprocess,
                    categories: catalogue.categories[entry.categories] ?? [],
                    outputNames: entry.outputNames, program: program)
            }
        }
        return nil
    }

    /// Every family zoo ships, by name.
    public static var names: [String] { (try? TorchvisionCatalogue.shared().families.keys.sorted()) ?? [] }

    /// The family `name`, with its program.
    public static func named(_ name: String) throws -> TorchvisionFamily {
        let catalogue = try TorchvisionCatalogue.shared()
        guard let entry = catalogue.families[name] else { throw TorchvisionCatalogue.Failure.unknownFamily(name) }
        return TorchvisionFamily(
            name: name, weights: entry.weights, preprocess: entry.preprocess, categories: catalogue.categories[entry.categories] ?? [],
            outputNames: entry.outputNames, program: try catalogue.program(named: name))
    }
}

/// The shipped archive, read once per process.
struct TorchvisionCatalogue: Sendable {
    struct Entry: Sendable {
        var weights: String
        var preprocess: JSONValue
        var categories: String
        var keyCount: Int
        var outputNames: [String]?
    }

    enum Failure: Error, CustomStringConvertible {
        case notInstalled(searched: [String])
        case unreadable(String)
        case unknownFamily(String)

        var description: String {
            switch self {
            case .notInstalled(let searched):
                "the torchvision family programs are not installed beside zoo (looked for \(searched.joined(separator: ", ")))"
            case .unreadable(let reason): "the torchvision family programs cannot be read: \(reason)"
            case .unknownFamily(let name): "zoo ships no torchvision family '\(name)'"
            }
        }
    }

    static let archiveName = "torchvision-programs.zip"
    var families: [String: Entry]
    var categories: [String: [String]]
    let archivePath: String

    private static let loaded = Mutex<Result<TorchvisionCatalogue, Failure>?>(nil)

    static func shared() throws -> TorchvisionCatalogue {
        try loaded.withLock { cached in
            if let cached { return try cached.get() }
            let result = Result { () throws(Failure) in try TorchvisionCatalogue() }
            cached = result
            return try result.get()
        }
    }

    /// SwiftPM copies a target's resources into `zoo_ModelZoo.resources` beside the executable
    /// (the test runner's too); zoo looks there rather than through `Bundle.module`, whose
    /// accessor stops the process when the folder is missing.
    static func candidatePaths() -> [String] {
        var folders: [String] = []
        if let executable = Bundle.main.executableURL { folders.append(executable.deletingLastPathComponent().path) }
        folders.append(Bundle.main.bundleURL.path)
        if let resources = Bundle.main.resourceURL { folders.append(resources.path) }
        return folders.map { $0 + "/zoo_ModelZoo.resources/" + archiveName }
    }

    private init() throws(Failure) {
        let searched = Self.candidatePaths()
        guard let path = searched.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw .notInstalled(searched: searched)
        }
        archivePath = path
        let index: JSONValue
        let names: JSONValue
        do {
            index = try JSONValue.parse(try Self.member("families.json", in: path))
            names = try JSONValue.parse(try Self.member("categories.json", in: path))
        } catch { throw .unreadable("\(error)") }
        families = [:]
        for (name, entry) in index["families"]?.objectValue ?? [:] {
            families[name] = Entry(
                weights: entry["weights"]?.stringValue ?? "", preprocess: entry["preprocess"] ?? .array([]),
                categories: entry["categories"]?.stringValue ?? "", keyCount: entry["keys"]?.intValue ?? -1,
                outputNames: entry["outputs"]?.arrayValue?.compactMap(\.stringValue))
        }
        categories = (names.objectValue ?? [:]).mapValues { $0.arrayValue?.compactMap(\.stringValue) ?? [] }
    }

    func program(named name: String) throws -> ExportedProgram {
        do {
            return try ExportedProgram(json: try JSONValue.parse(try Self.member(name + ".json", in: archivePath)))
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure.unreadable("\(name).json: \(error)")
        }
    }

    static func member(_ name: String, in path: String) throws -> String {
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        guard let entry = archive[name] else { throw Failure.unreadable("no \(name) in \(path)") }
        var data = Data()
        _ = try archive.extract(entry, skipCRC32: false) { data.append($0) }
        guard let text = String(data: data, encoding: .utf8) else { throw Failure.unreadable("\(name) is not UTF-8") }
        return text
    }
}
