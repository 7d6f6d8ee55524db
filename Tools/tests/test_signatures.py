"""zoo_h5.verify_signature checks files zoo signed, and notices every kind of change."""
import os
import shutil

import h5py
import numpy as np
import pytest

import zoo_h5  # installed by Tools/setup.sh: pip install ./Tools/python
from zoo_cli import ROOT, zoo

pytest.importorskip("cryptography")


@pytest.fixture
def signed(tmp_path):
    key = str(tmp_path / "key")
    assert zoo("keygen", "--output", key).returncode == 0
    path = str(tmp_path / "digits.h5")
    shutil.copy(os.path.join(ROOT, "Zoo", "digits.h5"), path)
    result = zoo("sign", path, "--key", key)
    assert result.returncode == 0, result.stderr
    return path, key + ".pub", tmp_path


def test_a_file_zoo_signed_verifies_in_python(signed):
    path, public, _ = signed
    assert zoo_h5.verify_signature(path, public)


def test_the_safetensors_copy_verifies_too(signed):
    path, public, folder = signed
    copy = str(folder / "digits.safetensors")
    assert zoo("convert", path, copy).returncode == 0
    assert zoo_h5.verify_signature(copy, public)
    assert zoo("verify", copy, "--trust", public).returncode == 0


def test_another_key_is_not_trusted(signed):
    path, _, folder = signed
    other = str(folder / "other")
    assert zoo("keygen", "--output", other).returncode == 0
    assert not zoo_h5.verify_signature(path, other + ".pub")
    assert zoo("verify", path, "--trust", other + ".pub").returncode == 1


@pytest.mark.parametrize("change", ["tensor", "reference_output", "tolerance", "manifest", "eval_label"])
def test_any_change_breaks_the_signature(signed, change):
    path, public, _ = signed
    with h5py.File(path, "r+") as f:
        if change == "tensor":
            f["conv1.weight"][0, 0, 0, 0] += 1e-3
        elif change == "reference_output":
            f["__tests__/output_0"][0, 0] += 1e-3
        elif change == "tolerance":
            f["__tests__/output_0"].attrs["atol"] = 1.0
        elif change == "manifest":
            text = f["__manifest__"][()]
            text = (text.decode() if isinstance(text, bytes) else text).replace('"graycnn"', '"simplecnn"')
            del f["__manifest__"]
            f.create_dataset("__manifest__", data=text)
        elif change == "eval_label":
            f["__eval__/labels"][0] = (f["__eval__/labels"][0] + 1) % 10
    assert not zoo_h5.verify_signature(path, public)
    result = zoo("verify", path, "--trust", public)
    assert result.returncode == 1
    named = {"tensor": "tensor conv1.weight", "reference_output": "test 0/output", "tolerance": "test 0/output",
             "manifest": "the manifest", "eval_label": "eval labels"}[change]
    assert named in result.stdout, result.stdout
