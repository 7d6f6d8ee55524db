"""Tests of the h5py-only parts of Tools/zoo_h5.py (CI has no torch)."""
import json
import os
import sys

import h5py
import numpy as np
import pytest

import zoo_h5  # installed by Tools/setup.sh: pip install ./Tools/python  # noqa: E402


def test_round_trip_keeps_order_values_and_checksums(tmp_path):
    path = str(tmp_path / "m.h5")
    arrays = {
        "b.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "a.num_batches_tracked": np.array(4, dtype=np.int64),
        "half": np.array([0.5, -1.0], dtype=np.float16),
    }
    zoo_h5.save_arrays(path, arrays, manifest={"arch": "x"}, tests=[(np.ones((1, 3), np.float32), np.zeros((1, 2), np.float32))])
    loaded = zoo_h5.load_arrays(path)
    assert list(loaded) == list(arrays)
    for key in arrays:
        assert loaded[key].dtype == arrays[key].dtype
        np.testing.assert_array_equal(loaded[key], arrays[key])
    manifest = zoo_h5.read_manifest(path)
    assert manifest["format_version"] == 1 and manifest["arch"] == "x"
    assert manifest["tensors"]["b.weight"] == {"dtype": "float32", "shape": [2, 3], "sha256": zoo_h5.sha256_of(arrays["b.weight"])}
    with h5py.File(path) as f:
        assert f["__tests__/input_0"].shape == (1, 3)


def test_changed_weight_is_caught(tmp_path):
    path = str(tmp_path / "m.h5")
    zoo_h5.save_arrays(path, {"w": np.ones(3, np.float32)})
    with h5py.File(path, "r+") as f:
        f["w"][1] = 2.0
    with pytest.raises(ValueError, match="checksum mismatch for w"):
        zoo_h5.load_arrays(path)


def test_bfloat16_bits_round_trip(tmp_path):
    path = str(tmp_path / "m.h5")
    values = np.array([1.0, -3.0, 0.15625], dtype=np.float32)
    zoo_h5.save_arrays(path, {"w": zoo_h5._bfloat16_bits(values)}, bfloat16_keys={"w"})
    loaded = zoo_h5.load_arrays(path)["w"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, values)
    assert zoo_h5.read_manifest(path)["tensors"]["w"]["dtype"] == "bfloat16"


def test_reserved_names_are_refused(tmp_path):
    with pytest.raises(ValueError):
        zoo_h5.save_arrays(str(tmp_path / "m.h5"), {"__manifest__": np.zeros(1)})


def test_plain_export_has_no_manifest(tmp_path):
    path = str(tmp_path / "plain.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("w", data=np.zeros(2, np.float32))
    assert zoo_h5.read_manifest(path) is None
    assert list(zoo_h5.load_arrays(path)) == ["w"]


def test_eval_set_and_picture_fields_are_written(tmp_path):
    path = str(tmp_path / "e.h5")
    inputs = np.zeros((3, 1, 2, 2), dtype=np.float32)
    zoo_h5.save_arrays(path, {"w": np.ones(2, np.float32)},
                       manifest={"preprocess": [{"type": "ToTensor"}], "classes": ["a", "b"], "metrics": {"accuracy": 2 / 3}},
                       eval_set=(inputs, [0, 1, 1], [0, 1, 0]))
    with h5py.File(path, "r") as f:
        assert f["__eval__/inputs"].shape == (3, 1, 2, 2)
        assert f["__eval__/labels"].dtype == np.int64
        assert list(f["__eval__/predictions"][()]) == [0, 1, 0]
    manifest = zoo_h5.read_manifest(path)
    assert manifest["classes"] == ["a", "b"]
    assert manifest["preprocess"] == [{"type": "ToTensor"}]
