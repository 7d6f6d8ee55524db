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
/// reused). A no-op off glibc.
enum FreedMemory {
    static func release() {
        #if canImport(Glibc)
            _ = malloc_trim(0)
        #endif
    }
}
