import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file mapped read-only into memory: readers take their tensors straight from the page
/// cache, one copy into each tensor, never a copy of the whole file. Unmapped on deinit.
///
/// A file mapped `consuming` (a scratch file that exists only to be read once: the transfer file
/// of contained reading) gives its memory back as it is read: each range ``release(_:)`` lets go
/// of is cut out of the file too, so that on a RAM-backed folder (/dev/shm) the file and the
/// tensors copied out of it never hold the same bytes twice.
final class MappedFile {
    private let base: UnsafeMutableRawPointer?
    let count: Int
    private let consuming: Bool
    /// Kept open for ``copy(_:into:)``'s reads.
    private let descriptor: Int32

    init(path: String, consuming: Bool = false) throws {
        self.consuming = consuming
        let descriptor = open(path, (consuming ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        guard descriptor >= 0 else { throw MappingError(reason: "cannot open: \(String(cString: strerror(errno)))") }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw MappingError(reason: "cannot stat: \(reason)")
        }
        self.descriptor = descriptor
        count = Int(status.st_size)
        guard count > 0 else {
            base = nil
            return
        }
        // Shared and writable only so that the kernel may drop the file's pages (MADV_REMOVE);
        // nothing is written through the mapping.
        let address =
            consuming
            ? mmap(nil, count, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0) : mmap(nil, count, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw MappingError(reason: "cannot map: \(reason)")
        }
        base = address
        // Tensors are copied front to back: tell the kernel to read ahead.
        _ = madvise(address, count, MADV_SEQUENTIAL)
    }

    deinit {
        if let base { munmap(base, count) }
        close(descriptor)
    }

    /// The file's bytes, valid only inside `body`.
    func withBytes<T, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Maps the pages of `range` in one call (MADV_POPULATE_READ, Linux 5.14+) before they are
    /// copied, instead of one page fault per page; a no-op where the kernel lacks it.
    func prefault(_ range: Range<Int>) {
        let range = range.clamped(to: 0..<count)
        guard let base, !range.isEmpty else { return }
        let start = range.lowerBound / Self.page * Self.page
        #if os(Linux)
            _ = madvise(base + start, range.upperBound - start, 22)  // MADV_POPULATE_READ
        #endif
    }

    /// Drops the pages of `range` that have been copied out, so that resident memory holds the
    /// tensors once rather than twice while a large file is read; a consuming mapping also cuts
    /// them out of the file. The page `range` starts in goes too, and the one it ends in stays
    /// (unless it ends the file): the file is read front to back.
    func release(_ range: Range<Int>) {
        // Never past the mapping: MADV_DONTNEED there would zero whatever else the process has
        // mapped (a crafted zip's directory can name any offset).
        let range = range.clamped(to: 0..<count)
        guard let base, !range.isEmpty else { return }
        let start = range.lowerBound / Self.page * Self.page
        let end = range.upperBound == count ? (count + Self.page - 1) / Self.page * Self.page : range.upperBound / Self.page * Self.page
        guard end > start else { return }
        #if os(Linux)
            // MADV_REMOVE: the file's pages go with the mapping's (a hole punched in the file).
            if consuming, madvise(base + start, end - start, 9) == 0 { return }
        #endif
        _ = madvise(base + start, end - start, MADV_DONTNEED)
    }

    private static let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// How far ``copy(_:into:)`` has mapped ahead and let go behind.
    private var prefaultedUpTo = 0
    private var releasedUpTo = 0
    /// Pages are mapped ahead and let go behind in pieces of this size: one call each way per
    /// piece, however small the tensors (20,000 tensors of 1 KiB: 20 pieces, not 20,000 calls).
    /// A piece is mapped ahead while the one behind is still resident, so the piece bounds what
    /// the file adds to resident memory: pieces of 8 MiB kept up to 16 MiB of a legacy torch file
    /// of small tensors resident (`zoo inspect` 90 -> 80 MiB).
    static let piece = 1 << 20

    /// Pieces this large are read by the kernel straight from the page cache into the tensor
    /// (`pread`, as libhdf5 reads for h5py), mapping nothing; smaller ones are copied from the
    /// mapping, whose pages are mapped ahead in whole pieces (thousands of small tensors, one call).
    private static let directRead = 1 << 20

    /// Copies `range` of the file into `destination` (exactly its size), for readers that take
    /// the file's ranges front to back, in pieces released behind them, so that the bytes of a
    /// large tensor are never resident twice (and leave a consuming file as they are copied). A
    /// range behind one already copied is copied all the same, but on a consuming file its bytes
    /// may be gone: readers of consumed files go strictly forward.
    func copy(_ range: Range<Int>, into destination: UnsafeMutableRawBufferPointer) throws {
        guard let base, !range.isEmpty, let target = destination.baseAddress else { return }
        guard destination.count == range.count, range.lowerBound >= 0, range.upperBound <= count else {
            throw MappingError(reason: "bytes \(range) do not fit a buffer of \(destination.count) in a file of \(count)")
        }
        if range.lowerBound < releasedUpTo {
            // Behind what was copied before (a storage earlier in the file than the last one).
            releasedUpTo = range.lowerBound / Self.page * Self.page
            prefaultedUpTo = releasedUpTo
        }
        if range.count >= FileReads.halvesFrom, FileReads.threads > 1 {
            try readInHalves(range, into: target)
            return
        }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let end = min(offset + Self.piece, range.upperBound)
            let into = target + (offset - range.lowerBound)
            if end - offset >= Self.directRead {
                try read(offset..<end, into: into)
            } else {
                if end > prefaultedUpTo {
                    let ahead = max(offset, prefaultedUpTo)..<min(count, offset + Self.piece)
                    prefault(ahead)
                    prefaultedUpTo = ahead.upperBound
                }
                into.copyMemory(from: base + offset, byteCount: end - offset)
            }
            if end > releasedUpTo && (end - releasedUpTo >= Self.piece || end == count) {
                release(releasedUpTo..<end)
                releasedUpTo = end / Self.page * Self.page
            }
            offset = end
        }
    }

    /// ``copy(_:into:)`` of a range of ``FileReads/halvesFrom`` bytes or more: its halves on two
    /// threads, each piece's pages let go once it is read. The halves meet at a page boundary, so
    /// that neither lets go of a page the other is still reading.
    private func readInHalves(_ range: Range<Int>, into target: UnsafeMutableRawPointer) throws {
        release(min(releasedUpTo, range.lowerBound)..<range.lowerBound)
        do {
            try FileReads.readInHalves(
                descriptor, at: range.lowerBound, into: UnsafeMutableRawBufferPointer(start: target, count: range.count),
                piece: Self.piece, meetingAt: Self.page
            ) { piece in release(piece) }
        } catch {
            throw MappingError(reason: error.reason)
        }
        releasedUpTo = range.upperBound / Self.page * Self.page
        prefaultedUpTo = max(prefaultedUpTo, releasedUpTo)
    }

    /// `pread` until `range` is in `target`.
    private func read(_ range: Range<Int>, into target: UnsafeMutableRawPointer) throws {
        do {
            try FileReads.readAll(descriptor, at: range.lowerBound, into: UnsafeMutableRawBufferPointer(start: target, count: range.count))
        } catch {
            throw MappingError(reason: error.reason)
        }
    }

    struct MappingError: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }
}
