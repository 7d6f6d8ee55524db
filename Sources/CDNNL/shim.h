#ifndef ZOO_CDNNL_SHIM_H
#define ZOO_CDNNL_SHIM_H

// Nothing to wrap: oneDNN's C API imports cleanly, and zoo allocates every buffer it hands to
// oneDNN itself (so DNNL_MEMORY_ALLOCATE, a pointer-valued macro Swift cannot import, is never
// needed). The header names the one interface NN uses (Debian's libdnnl-dev, oneDNN 2.x).
#include <dnnl.h>

#endif
