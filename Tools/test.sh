#!/usr/bin/env bash
# The project's test command: set-up, style, the Swift tests, the documentation (broken links
# fail), the Python tests of Tools/, the concurrency suite under ThreadSanitizer, and bounded
# fuzzing runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/setup.sh
swift format lint --strict -r Sources Tests Package.swift Fuzz/Package.swift Fuzz/Sources Examples
# A build prints no warnings: a new one fails the run. The one allowed line is SwiftPM's about
# ZIPFoundation 0.9.20's own manifest (its PrivacyInfo.xcprivacy is declared only where Apple's
# Compression module exists), which no change here can reach.
no_new_warnings() {
    if grep "warning:" "$1" | grep -v "'zipfoundation': found 1 file(s) which are unhandled"; then
        echo "test: the build printed the warnings above" >&2
        exit 1
    fi
}
mkdir -p .build
swift build --build-tests 2>&1 | tee .build/build-output.txt
no_new_warnings .build/build-output.txt
swift test --skip-build
# Examples/: a client package that uses only zoo's public products, built and run as an app would.
swift build --package-path Examples 2>&1 | tee .build/examples-build-output.txt
no_new_warnings .build/examples-build-output.txt
Examples/.build/debug/ClassifyDigit Zoo/digits.h5 Docs/digit.png | tee .build/classify-digit.txt
sed -n 3p .build/classify-digit.txt | grep -qE "%  7$" || { echo "test: ClassifyDigit did not rank class 7 first" >&2; exit 1; }
Examples/.build/debug/VerifyFolder Zoo .build/debug/zoo
# A long-running host: 170 open/verify/run/close cycles, memory, descriptors and children flat
# (the full 10,000: Examples/.build/release/LongRunningHost 10000 .build/release/zoo).
Examples/.build/debug/LongRunningHost 170 .build/debug/zoo
Examples/.build/debug/ReadmeProgram | tail -1 | grep -q "^verified: graycnn" || { echo "test: the README's program failed" >&2; exit 1; }
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
