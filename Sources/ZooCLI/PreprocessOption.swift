import Foundation
import JSON

/// `--preprocess` and `--classes` take JSON inline or the path of a file holding it.
enum PreprocessOption {
    /// The option's JSON: the text itself when it starts like a JSON list or object, else the
    /// contents of the file it names; either way a failure is exit 2 naming the flag.
    static func parse(_ value: String, flag: String = "--preprocess") throws -> JSONValue {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        let text: String
        if trimmed.hasPrefix("[") || trimmed.hasPrefix("{") {
            text = trimmed
        } else {
            guard let data = FileManager.default.contents(atPath: value), let contents = String(data: data, encoding: .utf8) else {
                throw ZooExit.unusable("\(flag) \(value): neither JSON nor a readable UTF-8 file")
            }
            text = contents
        }
        do { return try JSONValue.parse(text) } catch { throw ZooExit.unusable("\(flag) \(value): not JSON (\(error))") }
    }
}
