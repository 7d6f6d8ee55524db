"""Runs the zoo binary the tests were built with (the newest of release and debug, or ZOO_BIN)."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def zoo_binary():
    if os.environ.get("ZOO_BIN"):
        return os.environ["ZOO_BIN"]
    built = [p for p in (os.path.join(ROOT, ".build/release/zoo"), os.path.join(ROOT, ".build/debug/zoo")) if os.access(p, os.X_OK)]
    if not built:
        pytest.fail("no zoo binary: run `swift build` first or set ZOO_BIN")
    return max(built, key=os.path.getmtime)


def zoo(*args):
    return subprocess.run([zoo_binary(), *args], capture_output=True, text=True, cwd=ROOT)
