"""Writes the torch.save and safetensors fixtures of Tests/CheckpointTests/Fixtures/torch.

Run with the torch venv: .venv-torch/bin/python Tools/make_torch_fixtures.py
Every file is small; `expected.json` records, per file, what zoo must read (keys, shapes, dtypes
and the values as float64 lists, computed here by PyTorch) or the words its refusal must contain.
"""
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CheckpointTests", "Fixtures", "torch")
EXPLOIT_MARKER = "/tmp/zoo_pickle_exploit_marker"
expected = {}


def values(tensor):
    return tensor.detach().to(torch.float64).contiguous().reshape(-1).tolist()


def record(name, state, notes=None, extra=None):
    expected[name] = {
        "keys": list(state.keys()),
        "shapes": {k: list(v.shape) for k, v in state.items()},
        "dtypes": {k: str(v.dtype).replace("torch.", "") for k, v in state.items()},
        "values": {k: values(v) for k, v in state.items()},
    }
    if notes:
        expected[name]["notes"] = notes
    if extra:
        expected[name].update(extra)


def refused(name, words):
    expected[name] = {"refused": words}


def every_dtype():
    torch.manual_seed(0)
    base = torch.randn(2, 3)
    return {
        "f32": base.clone(),
        "f64": base.to(torch.float64),
        "f16": base.to(torch.float16),
        "bf16": base.to(torch.bfloat16),
        "i64": torch.tensor([[-3, 2**40], [7, -(2**50)]], dtype=torch.int64),
        "i32": torch.tensor([-5, 70000], dtype=torch.int32),
        "i16": torch.tensor([-300, 301], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(4, dtype=torch.int64),
    }


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {EXPLOIT_MARKER}",))


def cuda_location(storage):
    return "cuda:0"


def rewrite_zip(source, target, change):
    """Copies a torch zip entry by entry, letting `change(name, data)` return new bytes (or None to drop)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)


def renumber_memo(data, number):
    """The same pickle (protocol 2) with each memo entry stored and recalled under number(i), as
    LONG_BINPUT and LONG_BINGET: a pickler may number them in any order, with gaps."""
    import pickletools
    ops = list(pickletools.genops(data))
    out = bytearray()
    for index, (op, arg, pos) in enumerate(ops):
        end = ops[index + 1][2] if index + 1 < len(ops) else len(data)
        if op.name in ("BINPUT", "LONG_BINPUT"):
            out += b"r" + struct.pack("<I", number(arg))
        elif op.name in ("BINGET", "LONG_BINGET"):
            out += b"j" + struct.pack("<I", number(arg))
        else:
            out += data[pos:end]
    return bytes(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    path = lambda name: os.path.join(OUT, name)

    state = every_dtype()
    torch.save(state, path("dtypes_zip.pt"))
    record("dtypes_zip.pt", state)
    torch.save(state, path("dtypes_legacy.pt"), _use_new_zipfile_serialization=False)
    record("dtypes_legacy.pt", state)

    # Storages tagged with a GPU location, written on a machine without one.
    torch.serialization.register_package(1, cuda_location, lambda storage, location: None)
    small = {"w": torch.arange(4, dtype=torch.float32), "n": torch.tensor(2)}
    torch.save(small, path("cuda_zip.pt"))
    torch.save(small, path("cuda_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.serialization._package_registry.pop(0)
    record("cuda_zip.pt", small)
    record("cuda_legacy.pth", small)

    # Views, transposes, offsets and several tensors sharing one storage.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views = {"base": base, "t": base.t(), "slice": base[1:3, 2:5], "column": base[:, 4], "every_other": base[::2, ::3]}
    torch.save(views, path("views_zip.pt"))
    torch.save(views, path("views_legacy.pt"), _use_new_zipfile_serialization=False)
    record("views_zip.pt", views)
    record("views_legacy.pt", views)
    # The same pickle with its memo numbered out of order (pairs swapped) and then with gaps.
    renumbered = lambda i: i ^ 1 if i < 10 else 3 * i + 2
    rewrite_zip(path("views_zip.pt"), path("memo_order_zip.pt"),
                lambda name, data: renumber_memo(data, renumbered) if name.endswith("data.pkl") else data)
    reread = torch.load(path("memo_order_zip.pt"), weights_only=True)
    assert all(torch.equal(reread[k], v) for k, v in views.items())
    record("memo_order_zip.pt", views)

    # A training script's dict around the state_dict, a DataParallel prefix, an old BatchNorm.
    torch.manual_seed(1)
    net = TinyNet()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net.conv.weight.grad = torch.ones_like(net.conv.weight)
    optimizer.step()
    sd = net.state_dict()
    torch.save({"epoch": 3, "model_state_dict": sd, "optimizer_state_dict": optimizer.state_dict(), "loss": 0.25},
               path("wrapper.pt"))
    record("wrapper.pt", sd, extra={"ignored": ["epoch", "optimizer_state_dict", "loss"]})
    module = {"module." + k: v for k, v in sd.items()}
    torch.save(module, path("dataparallel.pth"))
    record("dataparallel.pth", sd)
    old = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    torch.save(old, path("old_batchnorm.bin"), _use_new_zipfile_serialization=False)
    record("old_batchnorm.bin", old,
           extra={"filled": ["bn.num_batches_tracked"]})

    # Big-endian: the same state with byteorder "big" and every storage byte-swapped.
    def big_endian(name, data):
        if name.endswith("/byteorder"):
            return b"big"
        if "/data/" in name:
            key = name.rsplit("/", 1)[1]
            width = storage_widths[key]
            return np.frombuffer(data, dtype=np.dtype(f"<u{width}") if width > 1 else np.uint8).byteswap().tobytes()
        return data
    numeric = {k: v for k, v in state.items()}
    torch.save(numeric, path("tmp.pt"))
    with zipfile.ZipFile(path("tmp.pt")) as z:
        # Storage keys are assigned in pickling order: the dict's order.
        storage_widths = {str(i): v.element_size() for i, v in enumerate(numeric.values())}
    rewrite_zip(path("tmp.pt"), path("big_endian_zip.pt"), big_endian)
    os.remove(path("tmp.pt"))
    record("big_endian_zip.pt", numeric)

    # Refused: a whole pickled model, a pickle that runs a command, damaged files.
    torch.save(net, path("whole_model.pt"))
    refused("whole_model.pt", "pickles a whole model (class __main__.TinyNet); save model.state_dict() instead")
    torch.save({"w": torch.zeros(1), "x": Exploit()}, path("exploit_zip.pt"))
    refused("exploit_zip.pt", "refused: the pickle calls posix.system")
    torch.save({"w": torch.zeros(1), "x": Exploit()}, path("exploit_legacy.pt"), _use_new_zipfile_serialization=False)
    refused("exploit_legacy.pt", "refused: the pickle calls posix.system")
    whole = open(path("dtypes_zip.pt"), "rb").read()
    open(path("truncated_zip.pt"), "wb").write(whole[: len(whole) // 2])
    refused("truncated_zip.pt", "truncated")
    legacy = open(path("dtypes_legacy.pt"), "rb").read()
    open(path("truncated_legacy.pt"), "wb").write(legacy[: len(legacy) - 20])
    refused("truncated_legacy.pt", "truncated")
    rewrite_zip(path("dtypes_zip.pt"), path("short_storage_zip.pt"),
                lambda name, data: data[: len(data) // 2] if name.endswith("/data/0") else data)
    refused("short_storage_zip.pt", "storage")

    # One flipped byte inside a storage entry (the zip's CRC-32 no longer matches).
    data = bytearray(open(path("dtypes_zip.pt"), "rb").read())
    with zipfile.ZipFile(path("dtypes_zip.pt")) as z:
        info = next(i for i in z.infolist() if i.filename.endswith("/data/0"))
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    data[info.header_offset + 30 + name_length + extra_length] ^= 0x01
    open(path("crc_mismatch_zip.pt"), "wb").write(bytes(data))
    refused("crc_mismatch_zip.pt", "CRC-32")

    # safetensors: as the package writes it, then damaged headers.
    st = {k: v for k, v in state.items()}
    save_file(st, path("dtypes.safetensors"), metadata={"format": "pt", "note": "kept"})
    record("dtypes.safetensors", st, extra={"metadata": {"format": "pt", "note": "kept"}})
    raw = open(path("dtypes.safetensors"), "rb").read()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    body = raw[8 + length :]

    def write_safetensors(name, new_header, data=body, declared=None):
        text = json.dumps(new_header).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        open(path(name), "wb").write(struct.pack("<Q", declared if declared is not None else len(text)) + text + data)

    overlap = json.loads(json.dumps(header))
    names = [k for k in overlap if k != "__metadata__"]
    ordered = sorted(names, key=lambda k: overlap[k]["data_offsets"][0])
    first, second = ordered[0], ordered[1]
    overlap[second]["data_offsets"] = [overlap[first]["data_offsets"][0], overlap[first]["data_offsets"][0] + (overlap[second]["data_offsets"][1] - overlap[second]["data_offsets"][0])]
    write_safetensors("overlap.safetensors", overlap)
    refused("overlap.safetensors", "overlap")
    write_safetensors("header_too_long.safetensors", header, declared=200_000_000)
    refused("header_too_long.safetensors", "header")
    # The header is intact but the file ends early: the last tensor's offsets point past its end.
    write_safetensors("past_end.safetensors", header, data=body[:-2])
    refused("past_end.safetensors", "past the end")
    bad_dtype = json.loads(json.dumps(header))
    bad_dtype[first]["dtype"] = "F8_E4M3"
    write_safetensors("unknown_dtype.safetensors", bad_dtype)
    refused("unknown_dtype.safetensors", "F8_E4M3")

    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
