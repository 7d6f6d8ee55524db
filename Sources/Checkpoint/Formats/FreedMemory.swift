internal import CMalloc

#if canImport(Glibc)
    import Glibc
#endif

/// The heap's freed pages, given back to the kernel where a reader has let a large parse go.
///
/// A `zoo` process keeps what it frees (`ActivationMemory` in NN sets glibc's thresholds so that
/// forward passes reuse their buffers), and a parse of 20,000 small values leaves tens of MB of
/// free but resident heap behind it. The tensors read next reuse that memory in the end, but
/// what a reader touches meanwhile (the file's pages it walks) comes on top of it: glibc's
/// `malloc_trim` gives the free pages back (they are faulted in again, zeroed, as they are
/// reused). Only after a parse of `parsed` bytes of at least 1 MiB: a file of a few big tensors
/// leaves little behind, and its read was slower with the trim (big.pt, 4 tensors of 64 MiB:
/// fastest of three reads 65-82 ms against 60-61). A no-op off glibc.
enum FreedMemory {
    static func release(afterParsing parsed: Int) {
        #if canImport(Glibc)
            guard parsed >= 1 << 20 else { return }
            _ = malloc_trim(0)
        #endif
    }
}
