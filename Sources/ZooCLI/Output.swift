import Foundation

/// Printing shared by the subcommands: aligned tables and JSON on stdout, errors on stderr.
enum Output {
    static func line(_ text: String = "") {
        CommandContext.current.output.write(text + "\n", to: .standardOutput)
    }

    /// A report as pretty JSON with sorted keys. Non-finite numbers, which JSON cannot spell,
    /// become the strings "inf", "-inf" and "nan", so the output is always one valid document.
    static func json(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            line(String(decoding: try encoder.encode(value), as: UTF8.self))
        } catch {
            // Only a report type that cannot encode itself gets here: a bug, said as one.
            Output.error("cannot encode the report as JSON: \(error)")
        }
    }

    /// One clear line first, details after, on stderr.
    static func error(_ message: String, details: [String] = []) {
        var text = "error: \(message)\n"
        for detail in details where !detail.isEmpty { text += detail.hasSuffix("\n") ? detail : detail + "\n" }
        CommandContext.current.output.write(text, to: .standardError)
    }

    /// Columns padded to their widest cell; numeric-looking columns right-aligned.
    static func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        let numeric = header.indices.map { column in
            rows.allSatisfy { row in
                row.indices.contains(column) && (Double(row[column].replacingOccurrences(of: ",", with: "")) != nil || row[column] == "-")
            }
        }
        for row in all {
            let cells = row.indices.map { column -> String in
                let padding = String(repeating: " ", count: widths[column] - row[column].count)
                return numeric[column] && row != header ? padding + row[column] : row[column] + padding
            }
            line(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }

    static func bytes(_ count: Int) -> String {
        let units = ["B", "KB", "MB", "GB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func grouped(_ count: Int) -> String {
        let digits = String(count)
        var result = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0 && index % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return String(result.reversed())
    }

    static func shape(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }

    static func scientific(_ value: Double) -> String {
        value.isFinite ? String(format: "%.2e", value) : "\(value)"
    }
}
