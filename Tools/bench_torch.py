#!/usr/bin/env python3
"""zoo beside PyTorch on this machine, in one run: forward passes (zoo bench forward vs PyTorch,
same models, inputs and thread count) and loads (zoo bench load of .h5, .pt and .safetensors vs
h5py reading the same tensors from .h5). Prints both with the ratio zoo / reference (below 1:
zoo is faster).

    swift build -c release
    .venv-torch/bin/python Tools/bench_torch.py [--repeat K] [--threads T] [--load-dir DIR] [--json]

`--load-dir DIR` writes (once) a 256 MiB state_dict there as big.h5, big.pt, big_legacy.pt and
big.safetensors and times loading each.
"""
import argparse
import json
import os
import subprocess
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
from zoo_models import REGISTRY  # noqa: E402

# (arch, batch, channels, height, width): the workloads of issue 10.
FORWARD_CASES = [
    ("simplecnn", 1, 3, 32, 32), ("simplecnn", 64, 3, 32, 32), ("net", 64, 3, 32, 32),
    ("encdec", 16, 3, 64, 64), ("resnet18", 1, 3, 224, 224), ("resnet18", 8, 3, 224, 224),
]


def zoo(*args):
    binary = os.environ.get("ZOO_BIN", os.path.join(ROOT, ".build/release/zoo"))
    result = subprocess.run([binary, *args, "--json"], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"zoo {' '.join(args)} failed: {result.stderr}")
    return json.loads(result.stdout)


def torch_forward(name, batch, channels, height, width, repeat, warmup):
    torch.manual_seed(0)
    model = REGISTRY[name]().eval()
    x = torch.rand(batch, channels, height, width) * 2 - 1
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        for _ in range(repeat):
            start = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[0], times[len(times) // 2]


def make_load_files(folder):
    paths = {k: os.path.join(folder, f) for k, f in
             [("h5", "big.h5"), ("pt", "big.pt"), ("legacy", "big_legacy.pt"), ("safetensors", "big.safetensors")]}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    import h5py
    from safetensors.torch import save_file
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    state = {f"layer{i}.weight": torch.randn(1024, 1024) for i in range(64)}
    state.update({f"layer{i}.bias": torch.randn(1024) for i in range(64)})
    torch.save(state, paths["pt"])
    torch.save(state, paths["legacy"], _use_new_zipfile_serialization=False)
    save_file(state, paths["safetensors"])
    with h5py.File(paths["h5"], "w") as f:
        for key, value in state.items():
            f.create_dataset(key, data=value.numpy())
    return paths


def h5py_load(path, repeat):
    import h5py
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with h5py.File(path, "r") as f:
            arrays = {key: f[key][()] for key in f}
        times.append((time.perf_counter() - start) * 1000)
        del arrays
    times.sort()
    return times[0], times[len(times) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--load-dir")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    # zoo first, every case, before PyTorch's thread pool exists: its threads keep spinning after
    # each operation and would take the cores from zoo's run.
    zoo_reports = [zoo("bench", "forward", name, "--batch", str(batch), "--height", str(height), "--width", str(width),
                       "--repeat", str(args.repeat), "--warmup", str(args.warmup), "--threads", str(args.threads))
                   for name, batch, channels, height, width in FORWARD_CASES]
    for (name, batch, channels, height, width), report in zip(FORWARD_CASES, zoo_reports):
        reference = torch_forward(name, batch, channels, height, width, args.repeat, args.warmup)
        rows.append({"case": f"{name} b{batch} {height}x{width}", "zoo_min_ms": report["min_ms"], "zoo_median_ms": report["median_ms"],
                     "reference": f"torch {torch.__version__}", "reference_min_ms": reference[0], "reference_median_ms": reference[1]})
    if args.load_dir:
        paths = make_load_files(args.load_dir)
        loads = {kind: zoo("bench", "load", path, "--repeat", str(max(3, args.repeat // 4))) for kind, path in paths.items()}
        reference = h5py_load(paths["h5"], max(3, args.repeat // 4))
        for kind, path in paths.items():
            report = loads[kind]
            rows.append({"case": f"load {os.path.basename(path)} ({report['bytes'] / 2**20:.0f} MiB)", "zoo_min_ms": report["min_ms"],
                         "zoo_median_ms": report["median_ms"], "reference": "h5py .h5", "reference_min_ms": reference[0],
                         "reference_median_ms": reference[1], "zoo_peak_rss_bytes": report["peak_rss_bytes"]})
    for row in rows:
        row["ratio_min"] = row["zoo_min_ms"] / row["reference_min_ms"]
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{os.cpu_count()} cores, {args.threads} threads, torch {torch.__version__}, repeat {args.repeat}")
    print(f"{'case':<34}{'zoo min':>9}{'median':>9}   {'reference':<22}{'min':>9}{'median':>9}{'ratio':>8}")
    for row in rows:
        print(f"{row['case']:<34}{row['zoo_min_ms']:>9.2f}{row['zoo_median_ms']:>9.2f}   {row['reference']:<22}"
              f"{row['reference_min_ms']:>9.2f}{row['reference_median_ms']:>9.2f}{row['ratio_min']:>8.2f}")


if __name__ == "__main__":
    main()
