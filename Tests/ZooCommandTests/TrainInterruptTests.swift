import Checkpoint
import Foundation
import JSON
import Synchronization
import Tensor
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Ctrl-C during `zoo train`, on the real binary, its standard error a pseudo-terminal so that
/// the progress bar shows each finished step: SIGINT once the bar shows step 1 ends the run
/// after the step in progress with exit 130, OUT whole (`zoo verify` passes), its state at the
/// last step the bar showed, nothing else beside it, and `--resume` finishes the run exactly as
/// the run that was never interrupted. A Ctrl-C straight after the start, while zoo reads the
/// file (or at worst in the first step), leaves no OUT or a whole one, never a temporary.
@Suite("TrainInterrupt")
struct TrainInterruptTests {
    /// 40 epochs of 2 batches: far more steps than can run between the bar's first step and
    /// the signal, so that the run cannot end on its own first.
    static let epochs = 40
    static let stepsPerEpoch = 2

    /// graycnn from `zoo export`, `stepsPerEpoch` batches of random 1x32x32 pictures of 10
    /// classes; the arguments of a shuffled run of `epochs` epochs.
    private func setUp(_ folder: URL, batchSize: Int = 8) throws -> [String] {
        let start = folder.appendingPathComponent("start.h5").path
        #expect(try zooProcess("export", "graycnn", "--seed", "2", "--output", start).status == 0)
        var generator = SeededGenerator(seed: 3)
        let count = Self.stepsPerEpoch * batchSize
        let inputs = folder.appendingPathComponent("x.npy").path
        let targets = folder.appendingPathComponent("y.npy").path
        try NumPyFile.write(Tensor(shape: [count, 1, 32, 32], scalars: generator.uniform(count: count * 1024, bound: 1)), to: inputs)
        try NumPyFile.write(try Tensor(shape: [count], storage: .int64((0..<count).map { Int64($0 % 10) })), to: targets)
        return [
            start, "--inputs", inputs, "--targets", targets, "--batch-size", "\(batchSize)", "--epochs", "\(Self.epochs)", "--seed", "4",
        ]
    }

    /// What an interrupted run did: its arguments (FILE first, no --output), OUT, how it ended,
    /// its two streams, the files it added to the folder, and whether the terminal showed what
    /// the SIGINT waited for.
    private struct Interrupted {
        var arguments: [String]
        var out: String
        var reason: Process.TerminationReason
        var status: Int32
        var stdout: String
        var terminal: String
        var added: Set<String>
        var sawCue: Bool
    }

    /// A signal to send once the terminal shows what `cue` looks for (at once without one).
    private struct Send {
        var signal: Int32
        var cue: ((String) -> Bool)?
    }

    /// Runs `zoo train` on the set-up data in `folder` (through a shell that sets SIGINT to
    /// ignored first when `ignoringInterrupts`) and sends `sends` in order, each after its cue.
    private func interruptedRun(
        in folder: URL, batchSize: Int = 8, ignoringInterrupts: Bool = false, sends: [Send], prepare: (String) throws -> Void = { _ in }
    ) throws -> Interrupted {
        let arguments = try setUp(folder, batchSize: batchSize)
        let out = folder.appendingPathComponent("out.h5").path
        try prepare(out)
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        let run = try TerminalRun(["train"] + arguments + ["--output", out], in: folder, ignoringInterrupts: ignoringInterrupts)
        var sawCue = true
        for send in sends {
            sawCue = sawCue && (send.cue.map { run.waitFor(timeout: 300, $0) } ?? true)
            kill(run.process.processIdentifier, send.signal)
        }
        let (reason, status, stdout, terminal) = run.finish()
        let added = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path)).subtracting(before)
        return Interrupted(
            arguments: arguments, out: out, reason: reason, status: status, stdout: stdout, terminal: terminal, added: added,
            sawCue: sawCue)
    }

    /// The bar has shown step 1.
    private static let firstStep: @Sendable (String) -> Bool = { $0.contains("] 1/\(stepsPerEpoch) loss") }
    /// zoo said it stops after the step in progress.
    private static let stopping: @Sendable (String) -> Bool = { $0.contains("Ctrl-C again quits at once") }

    /// Ctrl-C (SIGINT) exits 130 and a polite kill (SIGTERM, as `timeout` and schedulers send)
    /// 143; both write the same resumable checkpoint.
    @Test(arguments: [(SIGINT, 130), (SIGTERM, 143)] as [(Int32, Int32)])
    func aStopAfterAStepWritesAResumableCheckpoint(signal: Int32, exitStatus: Int32) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try interruptedRun(in: folder, sends: [Send(signal: signal, cue: Self.firstStep)])
        let (arguments, out) = (run.arguments, run.out)
        try #require(run.sawCue, "the bar never showed step 1: \(run.terminal)")
        #expect(run.reason == .exit && run.status == exitStatus, "exit \(run.status) (\(run.reason)): \(run.stdout) \(run.terminal)")
        #expect(Self.stopping(run.terminal), "\(run.terminal)")

        // The last step the bar showed, as epoch E/N ... S/T: the run stopped after it.
        let last = try #require(run.terminal.split(separator: "\r").last { $0.contains(" loss ") }, "\(run.terminal)")
        let numbers = last.split { !$0.isNumber }.compactMap { Int($0) }
        try #require(numbers.count >= 4, "\(last)")
        let shown = (numbers[0] - 1) * Self.stepsPerEpoch + numbers[2]
        #expect(shown >= 1 && shown < Self.epochs * Self.stepsPerEpoch, "\(last)")
        #expect(run.stdout.contains("wrote \(out) after \(shown) steps (stopped early: resume with --resume)"), "\(run.stdout)")

        #expect(run.added == ["out.h5"], "beside OUT: \(run.added)")
        let verified = try zooProcess("verify", out)
        #expect(verified.status == 0, "\(verified.all)")
        let state = try #require(try TrainingState(CheckpointReader.read(out))).json
        #expect(state["global_step"]?.intValue == shown)
        #expect(state["epoch"]?.intValue == shown / Self.stepsPerEpoch && state["step"]?.intValue == shown % Self.stepsPerEpoch)

        // --resume runs the rest and ends where the uninterrupted run ends.
        let resumed = folder.appendingPathComponent("resumed.h5").path
        let rest = try zooProcess(["train", out, "--resume", "--output", resumed, "--json"] + arguments.dropFirst())
        try #require(rest.status == 0, "\(rest.all)")
        let report = try JSONValue.parse(rest.stdout)
        #expect(report["steps"]?.intValue == Self.epochs * Self.stepsPerEpoch && report["stopped_early"] == .bool(false))
        #expect(report["epochs"]?.arrayValue?.count == Self.epochs)
        let straight = folder.appendingPathComponent("straight.h5").path
        let whole = try zooProcess(["train"] + arguments + ["--output", straight])
        try #require(whole.status == 0, "\(whole.all)")
        let a = try CheckpointReader.read(resumed)
        let b = try CheckpointReader.read(straight)
        #expect(a.stateDict == b.stateDict, "the resumed run ends elsewhere than the uninterrupted one")
        #expect(try TrainingState(a) == TrainingState(b))
    }

    /// The documented outcomes of a Ctrl-C that lands before training begins: zoo ends at once
    /// (killed by SIGINT, nothing written); or, should the read beat the signal, one step and
    /// a whole OUT with exit 130. Never a half-written OUT or a temporary beside it.
    @Test func ctrlCAtTheStartLeavesNothingOrAWholeFile() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try interruptedRun(in: folder, sends: [Send(signal: SIGINT)])
        if run.reason == .uncaughtSignal {
            #expect(run.status == SIGINT)
            #expect(run.added.isEmpty, "\(run.added)")
        } else {
            #expect(run.status == 130, "\(run.stdout) \(run.terminal)")
            #expect(run.added == ["out.h5"], "\(run.added)")
            #expect(try zooProcess("verify", run.out).status == 0)
            let state = try #require(try TrainingState(CheckpointReader.read(run.out))).json
            #expect(state["global_step"]?.intValue == 1, "a stop before the first step still takes that step")
        }
    }

    /// A second Ctrl-C while the run finishes its step ends zoo at once, killed by SIGINT as
    /// without zoo; the OUT the user already had is untouched. Batches of 1024 make the step in
    /// progress long enough for the second signal to land in it.
    @Test func aSecondCtrlCQuitsAtOnceAndLeavesOUTAsItWas() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var previous = Data()
        let run = try interruptedRun(
            in: folder, batchSize: 1024,
            sends: [Send(signal: SIGINT, cue: Self.firstStep), Send(signal: SIGINT, cue: Self.stopping)],
            prepare: { out in
                previous = Data("an earlier OUT".utf8)
                try previous.write(to: URL(fileURLWithPath: out))
            })
        try #require(run.sawCue, "\(run.terminal)")
        #expect(run.reason == .uncaughtSignal && run.status == SIGINT, "exit \(run.status) (\(run.reason)): \(run.stdout) \(run.terminal)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: run.out)) == previous, "OUT changed")
        // Killed while writing, zoo may leave its temporary (`.out.h5.tmp-PID-N`), which the next
        // write of OUT removes; never anything else.
        #expect(run.added.allSatisfy { $0.hasPrefix(".out.h5.tmp-") }, "\(run.added)")
    }

    /// A SIGINT that zoo was started with set to ignored stays ignored: the run goes on past it
    /// (SIGTERM then stops it, with the step count past the one shown at the SIGINT).
    @Test func anIgnoredCtrlCStaysIgnored() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let laterEpoch: (String) -> Bool = { $0.contains("epoch 4/") }
        let run = try interruptedRun(
            in: folder, ignoringInterrupts: true,
            sends: [Send(signal: SIGINT, cue: Self.firstStep), Send(signal: SIGTERM, cue: laterEpoch)])
        try #require(run.sawCue, "the run did not go on after the ignored SIGINT: \(run.stdout) \(run.terminal)")
        #expect(run.reason == .exit && run.status == 143, "exit \(run.status) (\(run.reason)): \(run.stdout) \(run.terminal)")
        let state = try #require(try TrainingState(CheckpointReader.read(run.out))).json
        #expect((state["global_step"]?.intValue ?? 0) > 3 * Self.stepsPerEpoch)
    }
}

/// A `zoo` process whose standard error is a pseudo-terminal (read as it is written, so that
/// the process never blocks on it) and whose standard output goes to a file.
private struct TerminalRun {
    let process = Process()
    private let master: Int32
    private let stdoutURL: URL
    /// What the terminal showed so far, and whether the reader saw its end.
    private let shown = Shown()

    private final class Shown: Sendable {
        let state = Mutex((text: "", ended: false))
    }

    /// With `ignoringInterrupts`, a shell sets SIGINT to ignored and execs zoo, which inherits
    /// that, as a background job of a non-interactive shell does.
    init(_ arguments: [String], in folder: URL, ignoringInterrupts: Bool = false) throws {
        var (terminalMaster, slave): (Int32, Int32) = (-1, -1)
        guard openpty(&terminalMaster, &slave, nil, nil, nil) == 0 else { throw POSIXError(.ENOTTY) }
        master = terminalMaster
        for descriptor in [master, slave] { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }  // other tests' children
        stdoutURL = folder.deletingLastPathComponent().appendingPathComponent("\(folder.lastPathComponent)-stdout")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        if ignoringInterrupts {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "trap '' INT; exec \"$0\" \"$@\"", zooExecutable.path] + arguments
        } else {
            process.executableURL = zooExecutable
            process.arguments = arguments
        }
        process.currentDirectoryURL = repositoryRoot
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: true)
        process.standardError = terminal
        try runAsFromAShell(process)
        try terminal.close()  // the child holds its copy: reading the master ends when the child does
        let (descriptor, output) = (master, shown)
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }  // EIO: the last writer closed the terminal
                let chunk = String(decoding: buffer[0..<count], as: UTF8.self)
                output.state.withLock { $0.text += chunk }
            }
            output.state.withLock { $0.ended = true }
        }
    }

    /// Starts `process` with SIGINT unblocked, as a shell starts a command: this thread, one of
    /// the test runner's Dispatch threads, blocks it, and a child inherits the mask of the
    /// thread that starts it. Nothing suspends between the two changes of the mask.
    private func runAsFromAShell(_ process: Process) throws {
        var interrupt = sigset_t()
        var mask = sigset_t()
        sigemptyset(&interrupt)
        sigaddset(&interrupt, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &interrupt, &mask)
        defer { pthread_sigmask(SIG_SETMASK, &mask, nil) }
        try process.run()
    }

    /// Waits until what the terminal shows satisfies `condition`, or the process ends, or
    /// `timeout` seconds pass; whether it did.
    func waitFor(timeout: Double, _ condition: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let (text, ended) = shown.state.withLock { ($0.text, $0.ended) }
            if condition(text) { return true }
            if ended { return false }
            usleep(2000)
        }
        return false
    }

    /// Waits for the process; how it ended, its standard output and what the terminal showed.
    func finish() -> (Process.TerminationReason, Int32, String, String) {
        process.waitUntilExit()
        while !shown.state.withLock({ $0.ended }) { usleep(2000) }
        close(master)
        let stdout = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: stdoutURL)
        return (process.terminationReason, process.terminationStatus, stdout, shown.state.withLock { $0.text })
    }
}
