import ArgumentParser
import Foundation
import JSON
import ModelZoo

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Show the registry and the checkpoints found in the zoo folder.")

    @OptionGroup var output: OutputOptions

    @Option(name: .long, help: "The folder of checkpoints.")
    var zoo = "Zoo"

    func run() throws {
        let registry = try Registry.all.map { architecture -> (Architecture, Int, Int) in
            let model = try architecture.build()
            return (architecture, model.parameterCount, model.stateDict().count)
        }
        let entries = ZooDirectory.scan(zoo)
        if output.json {
            Output.json(.object([
                "architectures": .array(registry.map { architecture, parameters, keys in
                    .object([
                        "name": .string(architecture.name), "summary": .string(architecture.summary),
                        "origin": .string(architecture.origin), "input": .string(architecture.inputDescription),
                        "parameters": .int(Int64(parameters)), "keys": .int(Int64(keys)),
                        "arguments": .object(Dictionary(uniqueKeysWithValues: architecture.arguments.map { ($0.name, JSONValue.int(Int64($0.defaultValue))) })),
                    ])
                }),
                "checkpoints": .array(entries.map { entry in
                    var fields: [String: JSONValue] = [
                        "path": .string(entry.path), "bytes": .int(Int64(entry.byteCount)), "sha256": .string(entry.sha256),
                    ]
                    if let arch = entry.arch { fields["arch"] = .string(arch) }
                    if let count = entry.parameterCount { fields["parameters"] = .int(Int64(count)) }
                    if let problem = entry.problem { fields["problem"] = .string(problem) }
                    return .object(fields)
                }),
            ]))
            return
        }
        Output.line("Architectures")
        Output.table(
            ["name", "args (defaults)", "input", "parameters", "description"],
            registry.map { architecture, parameters, _ in
                [architecture.name,
                 architecture.arguments.isEmpty ? "-" : architecture.arguments.map { "\($0.name)=\($0.defaultValue)" }.joined(separator: ", "),
                 architecture.inputDescription, Output.grouped(parameters), architecture.summary]
            })
        Output.line()
        Output.line("Checkpoints in \(zoo)/")
        if entries.isEmpty {
            Output.line("(none)")
            return
        }
        Output.table(
            ["file", "arch", "parameters", "size", "sha256"],
            entries.map { entry in
                [(entry.path as NSString).lastPathComponent, entry.arch ?? "unrecognised",
                 entry.parameterCount.map(Output.grouped) ?? "-", Output.bytes(entry.byteCount), String(entry.sha256.prefix(12))]
            })
        for entry in entries where entry.problem != nil {
            Output.line("note: \(entry.path): \(entry.problem!.split(separator: "\n").first ?? "")")
        }
    }
}
