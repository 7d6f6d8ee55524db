import Foundation
import ModelZoo

// verify-folder FOLDER [READER]: verifies every checkpoint in FOLDER, one line each, and exits
// with the worst outcome (0 all pass, 1 a check failed, 2 a file is unreadable). With READER (a
// `zoo` executable) the files are parsed in child processes: the choice for files from strangers.
let arguments = Array(CommandLine.arguments.dropFirst())
guard let folder = arguments.first else {
    FileHandle.standardError.write(Data("usage: verify-folder FOLDER [ZOO_EXECUTABLE]\n".utf8))
    exit(2)
}
let extensions: Set = ["h5", "hdf5", "safetensors", "pt", "pth", "bin", "ckpt"]
let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
let files = names.filter { extensions.contains(($0 as NSString).pathExtension) }.sorted().map { "\(folder)/\($0)" }
let reading: FileReading = arguments.count > 1 ? .contained(reader: URL(fileURLWithPath: arguments[1])) : .inProcess

let outcomes = Verifier.verify(files: files, reading: reading)
for outcome in outcomes {
    switch outcome {
    case .report(let report):
        print("\(report.passed ? "PASS" : "FAIL")  \(report.path)  \(report.resolved?.label ?? "no model")")
    case .unreadable(let path, let error):
        print("UNREADABLE  \(path)  \(error)")
    }
}
print("\(files.count) files, worst: \(outcomes.worstStatus)")
exit(outcomes.worstStatus.exitCode)
