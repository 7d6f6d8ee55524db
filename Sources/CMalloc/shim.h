#ifndef ZOO_CMALLOC_SHIM_H
#define ZOO_CMALLOC_SHIM_H

// glibc's allocator tuning (mallopt and its M_* parameters) lives in <malloc.h>, which the
// Glibc module does not import. Nothing is wrapped; on other C libraries this is empty.
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

#endif
