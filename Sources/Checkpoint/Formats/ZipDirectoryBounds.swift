import Foundation

/// Checks the numbers in a zip's directory before ZIPFoundation reads them: it converts 64-bit
/// offsets to `off_t` with a trapping conversion, so a ZIP64 field of 2^63 or more would stop
/// the process (found by `Tools/fuzz/libfuzzer.py`). The walk follows ZIPFoundation's own: the
/// end-of-directory record nearest the end, the ZIP64 record just before it when present, then
/// the central directory's entries until their count or a bad signature.
enum ZipDirectoryBounds {
    /// Every ZIP64 size and offset must stay below 2^62, so that ZIPFoundation's sums of an
    /// offset, a header and a size stay below 2^63.
    static let largestField: UInt64 = 1 << 62

    /// Why the directory cannot be handed to ZIPFoundation, or nil when it can.
    static func problem(in bytes: UnsafeRawBufferPointer) -> String? {
        let size = bytes.count
        func u16(_ at: Int) -> UInt64 { UInt64(bytes[at]) | UInt64(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt64 { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> UInt64 { u32(at) | u32(at + 4) << 32 }
        func signature(_ at: Int, _ value: UInt64) -> Bool { at >= 0 && at + 4 <= size && u32(at) == value }

        guard size >= 22, let end = stride(from: size - 22, through: 0, by: -1).first(where: { signature($0, 0x0605_4b50) })
        else { return nil }  // ZIPFoundation refuses it itself.
        var count = u16(end + 10)
        var directory = u32(end + 16)
        let locator = end - 20
        let record = locator - 56
        if signature(locator, 0x0706_4b50) && signature(record, 0x0606_4b50) {
            count = u64(record + 32)
            directory = u64(record + 48)
            guard u64(record + 40) < largestField else { return "its ZIP64 directory size \(u64(record + 40)) is impossible" }
        }
        guard directory < UInt64(size) else { return "its central directory starts at byte \(directory), past the end of the file" }

        var position = Int(directory)
        for _ in 0..<min(count, UInt64(size / 46)) {
            guard position + 46 <= size, signature(position, 0x0201_4b50) else { break }
            let (name, extra, comment) = (Int(u16(position + 28)), Int(u16(position + 30)), Int(u16(position + 32)))
            guard position + 46 + name + extra <= size else { break }
            if let problem = zip64Problem(bytes, extraAt: position + 46 + name, length: extra) { return problem }
            var localHeader = u32(position + 42)
            if localHeader == 0xFFFF_FFFF, let values = zip64Values(bytes, extraAt: position + 46 + name, length: extra) {
                // The local header offset follows the sizes that overflowed 32 bits.
                let skipped = (u32(position + 24) == 0xFFFF_FFFF ? 1 : 0) + (u32(position + 20) == 0xFFFF_FFFF ? 1 : 0)
                if skipped < values.count { localHeader = values[skipped] }
            }
            let local = Int(clamping: localHeader)
            if local < size - 30, signature(local, 0x0403_4b50) {
                let (localName, localExtra) = (Int(u16(local + 26)), Int(u16(local + 28)))
                if local + 30 + localName + localExtra <= size,
                    let problem = zip64Problem(bytes, extraAt: local + 30 + localName, length: localExtra)
                {
                    return problem
                }
            }
            position += 46 + name + extra + comment
        }
        return nil
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
