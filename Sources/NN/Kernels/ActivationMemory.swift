internal import CMalloc
import Foundation

/// How the C allocator serves the large buffers forward passes create and free on every layer.
public enum ActivationMemory {
    /// Keeps freed activation buffers (up to 256 MiB each) in the heap for the next layer or pass
    /// instead of returning them to the kernel, which otherwise maps, faults in and zeroes fresh
    /// pages every time: for small models most of a forward pass. Call once, before running models;
    /// a no-op off glibc.
    public static func reuseFreedBuffers() {
        #if canImport(Glibc)
            _ = mallopt(M_MMAP_THRESHOLD, 256 << 20)
            _ = mallopt(M_TRIM_THRESHOLD, 512 << 20)
        #endif
    }

    /// Gives the kernel back the freed buffers the allocator keeps (glibc's `malloc_trim`): for
    /// work that should start as a fresh process would, as each timed load does.
    public static func releaseFreedBuffers() {
        #if canImport(Glibc)
            _ = malloc_trim(0)
        #endif
    }
}
