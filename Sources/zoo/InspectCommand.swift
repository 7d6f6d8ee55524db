import ArgumentParser
import Checkpoint
import JSON

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "List every tensor (key, shape, dtype, bytes, checksum state), the manifest and totals.")

    @OptionGroup var output: OutputOptions

    @Argument(help: "The checkpoint (.h5).")
    var file: String

    func run() throws {
        let checkpoint = try readCheckpoint(file)
        let records = checkpoint.manifest?.tensors ?? [:]
        let rows = checkpoint.stateDict.map { entry -> (key: String, shape: [Int], dtype: String, bytes: Int, checksum: String) in
            let stored = checkpoint.storedKeys[entry.key] ?? entry.key
            let state: String
            if let expected = (records[stored] ?? records[entry.key])?.sha256 {
                state = expected.lowercased() == entry.tensor.sha256 ? "verified" : "MISMATCH"
            } else {
                state = "no manifest"
            }
            return (entry.key, entry.tensor.shape, entry.tensor.dtype.rawValue, entry.tensor.count * entry.tensor.dtype.byteCount, state)
        }
        if output.json {
            Output.json(.object([
                "path": .string(file),
                "tensors": .array(rows.map { row in
                    .object([
                        "key": .string(row.key), "shape": .array(row.shape.map { .int(Int64($0)) }), "dtype": .string(row.dtype),
                        "bytes": .int(Int64(row.bytes)), "checksum": .string(row.checksum),
                    ])
                }),
                "manifest": checkpoint.manifest?.json ?? .null,
                "layout": .array(checkpoint.layoutNotes.map(JSONValue.string)),
                "reference_vectors": .int(Int64(checkpoint.referenceCases.count)),
                "totals": .object([
                    "tensors": .int(Int64(checkpoint.stateDict.count)),
                    "elements": .int(Int64(checkpoint.stateDict.elementCount)),
                    "bytes": .int(Int64(checkpoint.stateDict.byteCount)),
                ]),
            ]))
            return
        }
        Output.table(["key", "shape", "dtype", "bytes", "checksum"], rows.map { [$0.key, Output.shape($0.shape), $0.dtype, Output.grouped($0.bytes), $0.checksum] })
        Output.line()
        Output.line("\(checkpoint.stateDict.count) tensors, \(Output.grouped(checkpoint.stateDict.elementCount)) elements, \(Output.bytes(checkpoint.stateDict.byteCount))")
        for note in checkpoint.layoutNotes { Output.line("layout: \(note)") }
        if let manifest = checkpoint.manifest {
            var summary = manifest.json
            if case .object(var fields) = summary { fields["tensors"] = .string("(\(manifest.tensors.count) records)"); summary = .object(fields) }
            Output.line("manifest: \(summary.serialized(pretty: true))")
        } else {
            Output.line("manifest: none (a plain export)")
        }
        Output.line("reference vectors: \(checkpoint.referenceCases.count)")
    }
}
