#!/usr/bin/env bash
# The project's test command: set-up, style, the Swift tests, the documentation (broken links
# fail), the Python tests of Tools/, the concurrency suite under ThreadSanitizer, and bounded
# fuzzing runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/setup.sh
swift format lint --strict -r Sources Tests Package.swift Fuzz/Package.swift Fuzz/Sources
swift build --build-tests
swift test --skip-build
swift package generate-documentation --warnings-as-errors \
    --target Containment --target HDF5 --target Tensor --target Pictures --target NN --target Checkpoint --target ModelZoo >/dev/null
python3 -m pytest -q Tools/tests
# Many threads at once, under ThreadSanitizer (its own build folder). Each forward pass runs on
# one thread here: libgomp, the OpenMP runtime under oneDNN and zoo's parallel loops, is not
# built for ThreadSanitizer, which then cannot see the barrier that orders a team's work and
# reports races that are not there. What this suite checks is zoo's own sharing between tasks.
OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1 swift test --sanitize=thread --build-path .build-tsan --filter ConcurrentVerification
# Bounded fuzzing, under 2 minutes: libFuzzer over each reader in-process (10 s each; a finding
# in zoo's own code, or one the command line does not answer with exit 0-2, fails), then the
# mutation script through the command line, contained (no crash, no hang).
python3 Tools/fuzz/libfuzzer.py --seconds 10 --zoo .build/debug/zoo
python3 Tools/fuzz/mutate.py --seconds 40 --mode contained --zoo .build/debug/zoo
