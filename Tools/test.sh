#!/usr/bin/env bash
# The project's test command: set-up, style, the Swift tests, the documentation (broken links
# fail), the Python tests of Tools/, the concurrency suite under ThreadSanitizer, and a bounded
# fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/setup.sh
swift format lint --strict -r Sources Tests Package.swift
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
# A bounded fuzzing run of every reader through the command line: no crash, no hang.
python3 Tools/fuzz/mutate.py --seconds 90 --mode contained --zoo .build/debug/zoo
