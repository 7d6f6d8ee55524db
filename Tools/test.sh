#!/usr/bin/env bash
# The project's test command: set-up, style, the Swift tests, the documentation (broken links
# fail), then the Python tests of Tools/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/setup.sh
swift format lint --strict -r Sources Tests Package.swift
swift build --build-tests
swift test --skip-build
swift package generate-documentation --warnings-as-errors \
    --target HDF5 --target Tensor --target Pictures --target NN --target Checkpoint --target ModelZoo >/dev/null
python3 -m pytest -q Tools/tests
