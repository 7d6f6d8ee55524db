#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test zoo: HDF5, oneDNN, libdeflate, libpng
# and libjpeg-turbo development packages, pkg-config, and the Python packages in Tools/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libhdf5-dev libdnnl-dev libdeflate-dev libpng-dev libjpeg62-turbo-dev pkg-config)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! python3 -c "import h5py, numpy, pytest, cryptography, safetensors, wheel" >/dev/null 2>&1; then
    echo "setup: installing Python packages from Tools/requirements.txt"
    python3 -m pip install --quiet --disable-pip-version-check -r Tools/requirements.txt
fi
# The Python helper, as users install it (reinstalled every time: it changes with the repository).
python3 -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps ./Tools/python
