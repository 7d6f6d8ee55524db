import Foundation
import Synchronization

/// The signal (SIGINT or SIGTERM) that asked `zoo train` to stop after its step; 0 while none has.
private let requestedStop = Atomic<Int32>(0)

/// Said on standard error when the first request arrives, so that a user who waits sees why.
private let stopNotice: StaticString = "\nzoo train: stopping after this step to write the checkpoint; Ctrl-C again quits at once\n"

/// The first request finishes the step in progress; the second ends zoo at once, as the signal
/// would have without zoo: OUT stays the file it was (a temporary left beside it is removed by the
/// next write of OUT). Only async-signal-safe calls: an atomic exchange, `write`, `signal`, `raise`.
private func requestStop(_ number: Int32) {
    guard requestedStop.exchange(number, ordering: .relaxed) != 0 else {
        _ = write(2, stopNotice.utf8Start, stopNotice.utf8CodeUnitCount)
        return
    }
    signal(number, SIG_DFL)
    raise(number)
}

/// How `zoo train` hears Ctrl-C (SIGINT) and a polite kill (SIGTERM, what `timeout`, systemd and
/// batch schedulers send before SIGKILL): as a request to finish the step and write OUT.
struct StopSignals: ~Copyable {
    private static let numbers = [SIGINT, SIGTERM]
    private var previous: [(number: Int32, action: sigaction)] = []
    private var mask = sigset_t()

    /// Installs the handler for each signal that is not ignored: a signal set to ignored (a
    /// background job of a non-interactive shell, `trap '' INT`) stays ignored, as the user asked.
    init() {
        requestedStop.store(0, ordering: .relaxed)
        var handled = sigset_t()
        sigemptyset(&handled)
        for number in Self.numbers {
            var current = sigaction()
            guard sigaction(number, nil, &current) == 0, !Self.isIgnored(current) else { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = requestStop
            // Reads and writes go on after the handler returns instead of failing with EINTR.
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            guard sigaction(number, &action, nil) == 0 else { continue }
            previous.append((number, current))
            sigaddset(&handled, number)
        }
        // A parent may hand the signals down blocked (a Swift program's Process started from a
        // Dispatch thread does): unblocked here, they reach the handler.
        pthread_sigmask(SIG_UNBLOCK, &handled, &mask)
    }

    deinit {
        var mask = self.mask
        pthread_sigmask(SIG_SETMASK, &mask, nil)
        for var entry in previous { sigaction(entry.number, &entry.action, nil) }
    }

    /// The signal that asked the run to stop, or nil.
    var requested: Int32? {
        let number = requestedStop.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }

    private static func isIgnored(_ action: sigaction) -> Bool {
        guard let handler = action.__sigaction_handler.sa_handler else { return false }
        return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }
}
