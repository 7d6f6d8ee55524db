#!/usr/bin/env bash
# The project's test command: set-up, then the Swift tests, then the Python tests of Tools/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/setup.sh
swift build --build-tests
swift test --skip-build
python3 -m pytest -q Tools/tests
