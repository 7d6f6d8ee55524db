#ifndef ZOO_FUZZ_DRIVER_H
#define ZOO_FUZZ_DRIVER_H
// Nothing for Swift to call: the driver below is the process's entry point.
#endif
