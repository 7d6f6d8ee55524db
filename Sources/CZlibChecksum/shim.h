#ifndef ZOO_CZLIBCHECKSUM_SHIM_H
#define ZOO_CZLIBCHECKSUM_SHIM_H

// Nothing to wrap: zlib.h imports cleanly. zoo uses only crc32(), which zlib computes several
// times faster than a byte-at-a-time table, to check torch.save zip entries as they are read.
#include <zlib.h>

#endif
