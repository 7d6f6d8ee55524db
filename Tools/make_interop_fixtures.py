#!/usr/bin/env python3
"""Writes HDF5 files the way Python users export state_dicts with plain h5py, in every layout
and dtype zoo must read, plus expected.json holding every value. Needs only h5py and numpy.

    python3 Tools/make_interop_fixtures.py Tests/CheckpointTests/Fixtures/interop
"""
import json
import os
import sys

import h5py
import numpy as np


def small_cnn_state(rng):
    """A conv + batchnorm + linear state_dict with PyTorch's key names and dtypes."""
    return {
        "conv1.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "conv1.bias": rng.standard_normal(4).astype(np.float32),
        "bn1.weight": rng.uniform(0.5, 1.5, 4).astype(np.float32),
        "bn1.bias": rng.standard_normal(4).astype(np.float32),
        "bn1.running_mean": rng.standard_normal(4).astype(np.float32),
        "bn1.running_var": rng.uniform(0.5, 2.0, 4).astype(np.float32),
        "bn1.num_batches_tracked": np.array(7, dtype=np.int64),
        "fc.weight": rng.standard_normal((2, 4)).astype(np.float32),
        "fc.bias": rng.standard_normal(2).astype(np.float32),
    }


def describe(state):
    out = {}
    for key, value in state.items():
        value = np.asarray(value)
        dtype = "bfloat16" if getattr(value, "_bf16", False) else str(value.dtype)
        out[key] = {"dtype": dtype, "shape": list(value.shape), "values": value.astype(np.float64).ravel().tolist()}
    return out


def write_flat(path, state, track_order=False):
    with h5py.File(path, "w", track_order=track_order) as f:
        for k, v in state.items():
            f.create_dataset(k, data=v)


def write_nested(group, state):
    for k, v in state.items():
        parts = k.split(".")
        g = group
        for p in parts[:-1]:
            g = g.require_group(p)
        g.create_dataset(parts[-1], data=v)


def bf16_bits(a):
    """bfloat16 bit patterns (round to nearest even) and the float32 values they stand for."""
    bits = np.asarray(a, dtype=np.float32).view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return rounded, (rounded.astype(np.uint32) << 16).view(np.float32)


def write_lzf(path):
    """h5py's own LZF filter, which libhdf5 alone cannot decode: readers must say so. The data
    compresses well, so the optional filter really is applied rather than skipped."""
    with h5py.File(path, "w") as f:
        f.create_dataset("fc.weight", data=np.zeros((64, 64), np.float32), compression="lzf")


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2024)
    base = small_cnn_state(rng)
    expected = {}

    write_flat(os.path.join(out, "flat.h5"), base)
    expected["flat.h5"] = {"keys": describe(base)}

    write_flat(os.path.join(out, "ordered.h5"), base, track_order=True)
    expected["ordered.h5"] = {"keys": describe(base), "order": list(base)}

    with h5py.File(os.path.join(out, "nested.h5"), "w") as f:
        write_nested(f, base)
    expected["nested.h5"] = {"keys": describe(base)}

    for wrapper in ["state_dict", "model_state_dict", "model"]:
        name = f"wrapper_{wrapper}.h5"
        with h5py.File(os.path.join(out, name), "w") as f:
            g = f.create_group(wrapper)
            for k, v in base.items():
                g.create_dataset(k, data=v)
            f.create_dataset("epoch", data=np.array(12, dtype=np.int64))
        expected[name] = {"keys": describe(base)}

    with h5py.File(os.path.join(out, "dataparallel.h5"), "w") as f:
        for k, v in base.items():
            f.create_dataset("module." + k, data=v)
    expected["dataparallel.h5"] = {"keys": describe(base)}

    with h5py.File(os.path.join(out, "dataparallel_nested.h5"), "w") as f:
        write_nested(f.create_group("module"), base)
    expected["dataparallel_nested.h5"] = {"keys": describe(base)}

    for dtype in [np.float16, np.float64]:
        state = {k: (v.astype(dtype) if v.dtype == np.float32 else v) for k, v in base.items()}
        name = f"{np.dtype(dtype).name}.h5"
        write_flat(os.path.join(out, name), state)
        expected[name] = {"keys": describe(state)}

    bf = {}
    with h5py.File(os.path.join(out, "bfloat16.h5"), "w") as f:
        for k, v in base.items():
            if v.dtype == np.float32:
                bits, values = bf16_bits(v)
                ds = f.create_dataset(k, data=bits)
                ds.attrs["dtype"] = "bfloat16"
                bf[k] = {"dtype": "bfloat16", "shape": list(v.shape), "values": values.astype(np.float64).ravel().tolist()}
            else:
                f.create_dataset(k, data=v)
                bf.update(describe({k: v}))
    expected["bfloat16.h5"] = {"keys": bf}

    # bfloat16 marked with a fixed-length ASCII attribute, stored as signed int16 bits.
    with h5py.File(os.path.join(out, "bfloat16_int16_ascii.h5"), "w") as f:
        bits, values = bf16_bits(base["fc.weight"])
        ds = f.create_dataset("fc.weight", data=bits.view(np.int16))
        ds.attrs["dtype"] = np.bytes_(b"bfloat16")
    expected["bfloat16_int16_ascii.h5"] = {"keys": {"fc.weight": {"dtype": "bfloat16", "shape": [2, 4], "values": values.astype(np.float64).ravel().tolist()}}}

    old = {k: v for k, v in base.items() if not k.endswith("num_batches_tracked")}
    write_flat(os.path.join(out, "old_batchnorm.h5"), old)
    filled = dict(base)
    filled["bn1.num_batches_tracked"] = np.array(0, dtype=np.int64)
    expected["old_batchnorm.h5"] = {"keys": describe(filled)}

    dtypes = {
        "f32": np.array([[1.5, -2.25], [np.float32(3.1415927), 1e-8]], dtype=np.float32),
        "f64": np.array([0.1, -1e300, 2.0], dtype=np.float64),
        "f16": np.array([0.5, -65504.0, 6e-5], dtype=np.float16),
        "i64": np.array([-(2**40), 0, 2**40], dtype=np.int64),
        "i32": np.array([-(2**31), 2**31 - 1], dtype=np.int32),
        "i16": np.array([-32768, 32767], dtype=np.int16),
        "i8": np.array([-128, 127], dtype=np.int8),
        "u8": np.array([0, 255], dtype=np.uint8),
        "b": np.array([True, False, True]),
        "scalar": np.array(3, dtype=np.int64),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "big_endian": np.array([1.0, -2.0, 3.5], dtype=">f4"),
    }
    write_flat(os.path.join(out, "dtypes.h5"), dtypes)
    described = describe(dtypes)
    described["big_endian"]["dtype"] = "float32"
    expected["dtypes.h5"] = {"keys": described}

    # A manifest written as a fixed-length ASCII string plus reference vectors with tolerances.
    manifest = {"format": "zoo-checkpoint", "format_version": 1, "arch": "custom", "future_field": {"kept": True}}
    with h5py.File(os.path.join(out, "manifest_ascii.h5"), "w") as f:
        for k, v in base.items():
            f.create_dataset(k, data=v)
        f.create_dataset("__manifest__", data=np.bytes_(json.dumps(manifest).encode()))
        t = f.create_group("__tests__")
        t.attrs["atol"] = 1e-4
        t.create_dataset("input_0", data=np.ones((1, 4), dtype=np.float32))
        o = t.create_dataset("output_0", data=np.full((1, 2), 0.5, dtype=np.float32))
        o.attrs["rtol"] = np.float32(0.001)
    expected["manifest_ascii.h5"] = {"keys": describe(base), "arch": "custom", "tests": 1, "atol": 1e-4, "rtol": 0.001}

    write_lzf(os.path.join(out, "..", "lzf.h5"))

    # A nested export whose submodules are called "model" and "head": not a wrapper.
    submodules = {"model.0.weight": base["conv1.weight"], "model.0.bias": base["conv1.bias"], "head.weight": base["fc.weight"]}
    with h5py.File(os.path.join(out, "nested_model_submodule.h5"), "w") as f:
        write_nested(f, submodules)
    expected["nested_model_submodule.h5"] = {"keys": describe(submodules)}

    # Compressed, chunked datasets (h5py's compression="gzip" with the shuffle filter).
    with h5py.File(os.path.join(out, "gzip_chunked.h5"), "w") as f:
        for k, v in base.items():
            if v.ndim:
                f.create_dataset(k, data=v, compression="gzip", compression_opts=9, shuffle=True, chunks=True)
            else:
                f.create_dataset(k, data=v)
    expected["gzip_chunked.h5"] = {"keys": describe(base)}

    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/CheckpointTests/Fixtures/interop")
