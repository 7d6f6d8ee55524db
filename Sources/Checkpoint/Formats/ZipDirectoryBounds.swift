import Foundation

/// Checks the numbers in a zip's directory before ZIPFoundation reads them: it converts 64-bit
/// offsets to `off_t` with a trapping conversion, so a ZIP64 field of 2^63 or more would stop
/// the process (found by `Tools/fuzz/libfuzzer.py`). The walk follows ZIPFoundation's own: the
/// end-of-directory record nearest the end, the ZIP64 record just before it when present, then
/// the central directory's entries until their count or a bad signature.
///
/// The same walk indexes the directory for the zip readers (``records(in:)``).
enum ZipDirectoryBounds {
    /// Every ZIP64 size and offset must stay below 2^62, so that ZIPFoundation's sums of an
    /// offset, a header and a size stay below 2^63.
    static let largestField: UInt64 = 1 << 62

    /// Why the directory cannot be handed to ZIPFoundation, or nil when it can.
    ///
    /// The walk reads every entry's local header, one per storage, so on a mapped file of many
    /// small tensors it touches every page: `release` is given each stretch of at least
    /// ``MappedFile/piece`` bytes behind the headers read so far, for the mapping to let those
    /// pages go (a .pt2 of 20,000 tensors of 1 KiB was otherwise resident whole, 37 MB, while
    /// its directory was checked).
    static func problem(in bytes: UnsafeRawBufferPointer, releasing release: (Range<Int>) -> Void = { _ in }) -> String? {
        var releasedUpTo = 0
        return walk(bytes) { entry in
            let local = Int(clamping: entry.localHeader)
            // Only behind headers inside the file: the directory's offsets are the file's claims.
            if local <= bytes.count, local - releasedUpTo >= MappedFile.piece {
                release(releasedUpTo..<local)
                releasedUpTo = local
            }
            if let problem = zip64Problem(bytes, extraAt: entry.extra.lowerBound, length: entry.extra.count) { return problem }
            let size = bytes.count
            if local < size - 30, signature(bytes, local, 0x0403_4b50) {
                let (localName, localExtra) = (Int(u16(bytes, local + 26)), Int(u16(bytes, local + 28)))
                if local + 30 + localName + localExtra <= size,
                    let problem = zip64Problem(bytes, extraAt: local + 30 + localName, length: localExtra)
                {
                    return problem
                }
            }
            return nil
        }
    }

    /// Every entry of the directory by its path, the first of duplicates, as ZIPFoundation's walk
    /// finds them; for a directory ``problem(in:)`` passed.
    static func records(in bytes: UnsafeRawBufferPointer) -> [String: ZipRecord] {
        var records: [String: ZipRecord] = [:]
        _ = walk(bytes) { entry in
            let path = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[entry.name]), as: UTF8.self)
            if records[path] == nil {
                records[path] = ZipRecord(
                    path: path, localHeader: entry.localHeader, uncompressedSize: entry.uncompressedSize, checksum: entry.checksum,
                    method: entry.method)
            }
            return nil
        }
        return records
    }

    /// One central directory entry's fields, the ZIP64 ones resolved.
    private struct CentralEntry {
        var name: Range<Int>
        var extra: Range<Int>
        var method: UInt16
        var checksum: UInt32
        var uncompressedSize: UInt64
        var localHeader: UInt64
    }

    /// Visits the central directory's entries in order until `visit` names a problem.
    private static func walk(_ bytes: UnsafeRawBufferPointer, _ visit: (CentralEntry) -> String?) -> String? {
        let size = bytes.count
        guard size >= 22, let end = stride(from: size - 22, through: 0, by: -1).first(where: { signature(bytes, $0, 0x0605_4b50) })
        else { return nil }  // ZIPFoundation refuses it itself.
        var count = u16(bytes, end + 10)
        var directory = u32(bytes, end + 16)
        let locator = end - 20
        let record = locator - 56
        if signature(bytes, locator, 0x0706_4b50) && signature(bytes, record, 0x0606_4b50) {
            count = u64(bytes, record + 32)
            directory = u64(bytes, record + 48)
            guard u64(bytes, record + 40) < largestField else { return "its ZIP64 directory size \(u64(bytes, record + 40)) is impossible" }
        }
        guard directory < UInt64(size) else { return "its central directory starts at byte \(directory), past the end of the file" }

        var position = Int(directory)
        for _ in 0..<min(count, UInt64(size / 46)) {
            guard position + 46 <= size, signature(bytes, position, 0x0201_4b50) else { break }
            let (name, extra, comment) = (Int(u16(bytes, position + 28)), Int(u16(bytes, position + 30)), Int(u16(bytes, position + 32)))
            guard position + 46 + name + extra <= size else { break }
            let extraStart = position + 46 + name
            var entry = CentralEntry(
                name: (position + 46)..<extraStart, extra: extraStart..<(extraStart + extra), method: UInt16(u16(bytes, position + 10)),
                checksum: UInt32(u32(bytes, position + 16)), uncompressedSize: u32(bytes, position + 24),
                localHeader: u32(bytes, position + 42))
            // Sizes and the offset that overflowed 32 bits follow in the ZIP64 extra field, in this order.
            if let values = zip64Values(bytes, extraAt: extraStart, length: extra) {
                var next = 0
                if u32(bytes, position + 24) == 0xFFFF_FFFF {
                    if next < values.count { entry.uncompressedSize = values[next] }
                    next += 1
                }
                if u32(bytes, position + 20) == 0xFFFF_FFFF { next += 1 }
                if entry.localHeader == 0xFFFF_FFFF, next < values.count { entry.localHeader = values[next] }
            }
            if let problem = visit(entry) { return problem }
            position += 46 + name + extra + comment
        }
        return nil
    }

    private static func u16(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt64 { UInt64(bytes[at]) | UInt64(bytes[at + 1]) << 8 }
    private static func u32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt64 { u16(bytes, at) | u16(bytes, at + 2) << 16 }
    private static func u64(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt64 { u32(bytes, at) | u32(bytes, at + 4) << 32 }
    private static func signature(_ bytes: UnsafeRawBufferPointer, _ at: Int, _ value: UInt64) -> Bool {
        at >= 0 && at + 4 <= bytes.count && u32(bytes, at) == value
    }

    /// The 8-byte values of the ZIP64 extra field (id 1) among the extra fields at `start`.
    private static func zip64Values(_ bytes: UnsafeRawBufferPointer, extraAt start: Int, length: Int) -> [UInt64]? {
        var position = start
        while position + 4 <= start + length {
            let id = UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
            let fieldSize = Int(bytes[position + 2]) | Int(bytes[position + 3]) << 8
            let data = position + 4
            if id == 1 {
                let usable = min(fieldSize, start + length - data) / 8
                return (0..<usable).map { index in
                    (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[data + index * 8 + $1]) << (8 * UInt64($1)) }
                }
            }
            position = data + fieldSize
        }
        return nil
    }

    private static func zip64Problem(_ bytes: UnsafeRawBufferPointer, extraAt start: Int, length: Int) -> String? {
        guard let values = zip64Values(bytes, extraAt: start, length: length),
            let impossible = values.first(where: { $0 >= largestField })
        else { return nil }
        return "a ZIP64 size or offset of \(impossible) is impossible"
    }
}

/// One entry of a zip's directory, as much as reading a stored entry takes: about 50 bytes where
/// ZIPFoundation's `Entry` is 576 (11.5 MB for the 20,000 storages of a checkpoint of small
/// tensors, held while every tensor was read).
struct ZipRecord: Sendable {
    var path: String
    /// Where the entry's local header starts; its data follows the header's name and extra field.
    var localHeader: UInt64
    var uncompressedSize: UInt64
    var checksum: UInt32
    /// 0: stored; anything else is compressed, which torch.save never does.
    var method: UInt16

    var isCompressed: Bool { method != 0 }
}
