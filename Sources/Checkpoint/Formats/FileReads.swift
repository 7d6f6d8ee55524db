import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file's bytes read straight into memory with `pread` (no shared position, so any thread may
/// read through one descriptor): the one read loop of zoo's readers.
enum FileReads {
    /// Reads from `offset` until `buffer` is full or the file ends, retrying interrupted reads:
    /// the count read and, when a read failed, its error number.
    static func read(_ descriptor: Int32, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, error: Int32?) {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, min(buffer.count - done, 1 << 30), off_t(offset + done))
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return (done, errno) }
            if count == 0 { break }
            done += count
        }
        return (done, nil)
    }

    /// Fills `buffer` from `offset`, or says why it could not.
    static func readAll(_ descriptor: Int32, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) {
        let (count, error) = read(descriptor, at: offset, into: buffer)
        guard count == buffer.count else {
            throw FileReadError(reason: error.map { "cannot read: \(String(cString: strerror($0)))" } ?? "the file ended early")
        }
    }

    /// Reads of this many bytes or more go to ``readInHalves(_:at:into:piece:meetingAt:done:)``:
    /// the kernel zeroing the buffer's new pages and copying from the page cache are most of such
    /// a read, and both split across cores (`zoo bench load`, 256 MiB in 128 tensors of 2 MiB:
    /// safetensors 104 -> 61-83 ms, legacy torch 107 -> 60-69, HDF5 106 -> 73-75).
    static let halvesFrom = 2 << 20
    static let threads = min(2, ProcessInfo.processInfo.activeProcessorCount)

    /// Fills `buffer` from `offset` of the file on two threads, each half front to back in
    /// pieces of `piece` bytes; the halves meet at a multiple of `boundary` bytes into the file.
    /// `done` is given each piece's range in the file once it is in `buffer`, on the thread that
    /// read it: pieces of one half in order, the two halves at once.
    static func readInHalves(
        _ descriptor: Int32, at offset: Int, into buffer: UnsafeMutableRawBufferPointer, piece: Int, meetingAt boundary: Int,
        done: (Range<Int>) -> Void
    ) throws(FileReadError) {
        let end = offset + buffer.count
        let middle = max(offset, (offset + buffer.count / 2) / boundary * boundary)
        let halves = [offset..<middle, middle..<end]
        let failures = Mutex<[FileReadError]>([])
        withoutActuallyEscaping(done) { done in
            let work = HalvesWork(buffer: buffer, done: done)
            DispatchQueue.concurrentPerform(iterations: halves.count) { half in
                var start = halves[half].lowerBound
                while start < halves[half].upperBound {
                    let stop = min(start + piece, halves[half].upperBound)
                    let target = UnsafeMutableRawBufferPointer(rebasing: work.buffer[(start - offset)..<(stop - offset)])
                    do throws(FileReadError) {
                        try readAll(descriptor, at: start, into: target)
                    } catch {
                        failures.withLock { $0.append(error) }
                        return
                    }
                    work.done(start..<stop)
                    start = stop
                }
            }
        }
        if let failure = failures.withLock({ $0.first }) { throw failure }
    }
}

/// Why a read of a file's bytes stopped.
struct FileReadError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

/// The buffer and the piece callback, as ``FileReads/readInHalves(_:at:into:piece:meetingAt:done:)``'s
/// two threads see them.
// @unchecked: each thread writes only its own half of the buffer, and the caller's callback is
// told of disjoint ranges (MappedFile lets go of each piece's pages, which no other piece holds).
private struct HalvesWork: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
    let done: (Range<Int>) -> Void
}
