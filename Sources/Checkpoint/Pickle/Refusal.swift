/// Why a torch.save file was refused: it names something a weights file does not need. Every
/// case is found before anything is built from it, and nothing in the file runs.
public enum Refusal: Sendable, Equatable, CustomStringConvertible {
    /// The pickle instantiates a class that looks like a model (`__main__.Net`, `torch.nn...`).
    case pickledModel(className: String)
    /// The file stores a model's source code (a persistent id of kind `module`): TorchScript-era
    /// `torch.save(model)` of a whole module.
    case pickledModelSource
    /// The pickle instantiates a class that is no model but no weights file holds either.
    case buildsObject(className: String)
    /// NEWOBJ, NEWOBJ_EX, INST or OBJ on something other than a named class.
    case buildsAnonymousObject
    /// The pickle names a global outside the allowed few (`posix.system`, `builtins.eval`).
    case forbiddenGlobal(String)
    /// REDUCE on something that is not a global (`kind` says what it is).
    case callsNonGlobal(kind: String)
    /// BUILD on something other than a dict or a tensor.
    case setsState(state: String, target: String)
    /// An opcode a weights file does not need (extension registry, custom objects).
    case unsupportedOpcode(UInt8)
    /// A torch type no zoo dtype matches (complex, quantised, float8, ...).
    case unsupportedTorchType(String)
    /// A storage whose type is not a global naming a storage zoo reads.
    case unsupportedStorageType(kind: String)
    /// A persistent id in a pickle that is no torch.save file.
    case persistentIDOutsideTorchSave
    /// A persistent id that is not `('storage', ...)`.
    case persistentIDNotAStorage
    /// The pickled root object is not a dict (`kind` says what it is).
    case notAStateDict(kind: String)
    /// The pickled dict holds no tensor anywhere; `keys` are its first keys.
    case noTensors(keys: [String])
    /// A torch.export archive whose program schema is newer than zoo knows.
    case exportSchemaTooNew(major: Int, minor: Int)
    /// A torch.export archive that pickles a weight (`use_pickle`) instead of storing its bytes.
    case pickledExportWeight(key: String)

    public var description: String {
        switch self {
        case .pickledModel(let className): return "this file pickles a whole model (class \(className)); save model.state_dict() instead"
        case .pickledModelSource: return "this file pickles a whole model (its source code is stored); save model.state_dict() instead"
        case .buildsObject(let className):
            return "refused: the pickle builds an object of class \(className), which a weights file does not hold"
        case .buildsAnonymousObject: return "refused: the pickle builds an object"
        case .forbiddenGlobal(let name): return "refused: the pickle calls \(name)"
        case .callsNonGlobal(let kind): return "refused: the pickle calls a \(kind)"
        case .setsState(let state, let target): return "refused: the pickle sets the state (\(state)) of a \(target)"
        case .unsupportedOpcode(let byte):
            let hex = String(byte, radix: 16)
            return "refused: the pickle uses opcode 0x\(hex.count < 2 ? "0" + hex : hex), which a weights file does not need"
        case .unsupportedTorchType(let name): return "refused: the file holds a \(name), which no zoo dtype matches"
        case .unsupportedStorageType(let kind): return "refused: a storage has type \(kind), which no zoo dtype matches"
        case .persistentIDOutsideTorchSave: return "refused: the pickle uses persistent ids outside a torch.save file"
        case .persistentIDNotAStorage: return "refused: the pickle's persistent id is not a storage"
        case .notAStateDict(let kind): return "refused: the file pickles a \(kind), not a state_dict (a dict of tensors)"
        case .exportSchemaTooNew(let major, let minor):
            return "refused: the torch.export program has schema version \(major).\(minor); zoo reads up to \(PT2Reader.schemaMajor).x"
        case .pickledExportWeight(let key): return "refused: the torch.export archive pickles weight '\(key)' instead of storing its bytes"
        case .noTensors(let keys):
            return "refused: no state_dict found: the pickled dict holds no tensors (keys: \(keys.joined(separator: ", ")))"
        }
    }
}
