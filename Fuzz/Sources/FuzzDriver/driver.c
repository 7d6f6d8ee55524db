// SwiftPM links an executable target with `main` aliased to `<Target>_main` (so that tests can
// import executables), which hides libFuzzer's own `main`. This entry point hands the process to
// libFuzzer's driver with the Swift callback, as libFuzzer's `main` would.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int ZooFuzz_main(int argc, char **argv) { return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput); }
