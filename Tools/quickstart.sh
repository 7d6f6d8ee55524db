#!/usr/bin/env bash
# The main job on a fresh machine: set-up, a release build, then the zoo and its verification.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/setup.sh
swift build -c release --product zoo
zoo=".build/release/zoo"
"$zoo" list
"$zoo" verify Zoo/*.h5
