import Foundation
import ModelZoo
import NN
import Tensor

// long-running-host ITERATIONS ZOO_EXECUTABLE: zoo used from a server process. Each iteration
// opens one checkpoint through the front door (the formats in turn; hostile files through
// contained reading), verifies it, runs it on its reference input and lets it go. After a
// warm-up, the highest resident memory of the last stretch must stay within 10% of the highest
// of the first stretch (the allocator's level moves by a few MB from one file to the next, so
// peaks are compared, not single samples), and the open file descriptors and child processes
// must not grow: exit 0 when they hold, 1 when not.
let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 2, let iterations = Int(arguments[0]), iterations > 0 else {
    FileHandle.standardError.write(Data("usage: LongRunningHost ITERATIONS ZOO_EXECUTABLE\n".utf8))
    exit(2)
}
let contained = FileReading.contained(reader: URL(fileURLWithPath: arguments[1]), timeout: 20)

/// A file, how it is read, and whether it must open.
struct Job {
    var path: String
    var reading: FileReading
    var opens: Bool
}

let torch = "Tests/CheckpointTests/Fixtures/torch/"
let bad = "Tests/ModelZooTests/Fixtures/"
let jobs: [Job] =
    ["simplecnn", "net", "cnnmodel", "edgedetect", "encdec", "graycnn", "digits", "digits_autoencoder"].map {
        Job(path: "Zoo/\($0).h5", reading: .inProcess, opens: true)
    } + [
        Job(path: "\(bad)encdec_torch_save.pt", reading: .inProcess, opens: true),
        Job(path: "\(bad)simplecnn_float16.h5", reading: contained, opens: true),
        Job(path: "Zoo/net.h5", reading: contained, opens: true),
        Job(path: "\(torch)exploit_zip.pt", reading: .inProcess, opens: false),
        Job(path: "\(torch)whole_model.pt", reading: contained, opens: false),
        Job(path: "\(torch)overlap.safetensors", reading: .inProcess, opens: false),
        Job(path: "\(bad)bad_truncated.h5", reading: .inProcess, opens: false),
        Job(path: "\(bad)bad_hdf5_fault_object_header.h5", reading: contained, opens: false),
        Job(path: "\(bad)bad_random.h5", reading: contained, opens: false),
    ]

/// Resident bytes, open descriptors and live (or unreaped) children of this process. The
/// allocator's free pages are given back first, so the resident size counts what the process
/// holds, not how glibc happened to lay out freed buffers (its level moved by 8 MB at a random
/// iteration of one CI run and stayed there, with nothing held).
func sample() -> (resident: Int, descriptors: Int, children: Int) {
    ActivationMemory.releaseFreedBuffers()
    let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
    let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    let descriptors = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
    let me = ProcessInfo.processInfo.processIdentifier
    let children = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { name in
        guard Int32(name) != nil, let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").dropFirst().first.flatMap { Int32($0) } == me
    }.count
    return (pages * Int(sysconf(Int32(_SC_PAGESIZE))), descriptors, children)
}

var failures = 0
let warmUp = min(iterations / 5, 2 * jobs.count)
/// Iterations per stretch whose peaks are compared: two rounds of every job, or a fifth of the run.
let stretch = max(1, min(2 * jobs.count, (iterations - warmUp) / 2))
var baseline = sample()
var (firstPeak, lastPeak) = (0, 0)
let start = Date()
for iteration in 0..<iterations {
    let job = jobs[iteration % jobs.count]
    do {
        let model = try ZooModel(contentsOf: job.path, reading: job.reading)
        let report = model.verify()
        if let reference = model.checkpoint.referenceCases.first { _ = try model(reference.input) }
        if !job.opens || !report.passed {
            print("unexpected: \(job.path) opened (passed: \(report.passed))")
            failures += 1
        }
    } catch {
        if job.opens {
            print("unexpected: \(job.path): \(error)")
            failures += 1
        }
    }
    if iteration + 1 == warmUp { baseline = sample() }
    guard iteration + 1 > warmUp else { continue }
    let now = sample()
    if iteration + 1 <= warmUp + stretch { firstPeak = max(firstPeak, now.resident) }
    if iteration + 1 > iterations - stretch { lastPeak = max(lastPeak, now.resident) }
    if (iteration + 1) % max(1, iterations / 10) == 0 || iteration + 1 == iterations {
        print(
            String(
                format: "%6d iterations  %6.1f s  resident %7.1f MB  descriptors %3d  children %d", iteration + 1,
                Date().timeIntervalSince(start), Double(now.resident) / 1e6, now.descriptors, now.children))
    }
}
let end = sample()
let growth = Double(lastPeak) / Double(max(1, firstPeak))
print(
    String(
        format:
            "peak resident, first %d iterations after warm-up: %.1f MB; last %d: %.1f MB (x%.3f); descriptors %d -> %d; children %d -> %d",
        stretch, Double(firstPeak) / 1e6, stretch, Double(lastPeak) / 1e6, growth, baseline.descriptors, end.descriptors,
        baseline.children, end.children))
let flat = growth <= 1.10 && end.descriptors <= baseline.descriptors && end.children == 0
print(flat && failures == 0 ? "flat" : "NOT FLAT (\(failures) unexpected outcomes)")
exit(flat && failures == 0 ? 0 : 1)
