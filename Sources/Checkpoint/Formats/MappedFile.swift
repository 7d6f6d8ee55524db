import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file mapped read-only into memory: readers take their tensors straight from the page
/// cache, one copy into each tensor, never a copy of the whole file. Unmapped on deinit.
final class MappedFile {
    private let base: UnsafeMutableRawPointer?
    let count: Int

    init(path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw MappingError(reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw MappingError(reason: "cannot stat: \(String(cString: strerror(errno)))") }
        count = Int(status.st_size)
        guard count > 0 else {
            base = nil
            return
        }
        let address = mmap(nil, count, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw MappingError(reason: "cannot map: \(String(cString: strerror(errno)))")
        }
        base = address
        // Tensors are copied front to back: tell the kernel to read ahead.
        _ = madvise(address, count, MADV_SEQUENTIAL)
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// The file's bytes, valid only inside `body`.
    func withBytes<T, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Maps the pages of `range` in one call (MADV_POPULATE_READ, Linux 5.14+) before they are
    /// copied, instead of one page fault per page; a no-op where the kernel lacks it.
    func prefault(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        #if os(Linux)
            _ = madvise(base + start, range.upperBound - start, 22)  // MADV_POPULATE_READ
        #endif
    }

    /// Drops the pages of `range` that have been copied out, so that resident memory holds the
    /// tensors once rather than twice while a large file is read.
    func release(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let end = range.upperBound / page * page
        if end > start { _ = madvise(base + start, end - start, MADV_DONTNEED) }
    }

    struct MappingError: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }
}
