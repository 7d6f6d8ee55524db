#ifndef ZOO_CBLAS_SHIM_H
#define ZOO_CBLAS_SHIM_H

// Nothing to wrap: cblas.h imports cleanly. The header exists so the module map has
// one place that names OpenBLAS's CBLAS interface (found through pkg-config "openblas").
#include <cblas.h>

#endif
