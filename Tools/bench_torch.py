#!/usr/bin/env python3
"""zoo beside PyTorch and ONNX Runtime on this machine, in one run: forward passes (zoo bench
forward vs PyTorch eager vs ONNX Runtime on the same models exported by torch.onnx.export, same
inputs and thread count, all graph optimisations; each engine in a fresh process, engines
alternating case by case) and loads (zoo bench load of .h5, .pt and .safetensors vs h5py reading
the same tensors from .h5). Prints each with the ratio zoo / the faster peer (below 1: zoo is
faster).

Cases named `pt2:<torchvision model>` run torch.export programs: the torchvision model (fresh
weights, seed 0) is exported once per batch size to the temporary directory with
`torch.export.export` + `torch.export.save`, and zoo runs that `.pt2` (`zoo bench forward
model.pt2`); PyTorch and ONNX Runtime run the same model. `--only SUBSTRING` keeps the cases whose
name contains it (training cases too).

`--rounds K` runs every case K times, each round a fresh process per engine with the engines
alternating, and keeps each engine's fastest round (min) and the median of its rounds' medians:
on a shared machine a single process can land in a busy second, and alternating rounds give each
engine the same chances (issue 19 measures "fresh process each, alternating, fastest of 5").

    swift build -c release
    .venv-torch/bin/python Tools/bench_torch.py [--repeat K] [--rounds K] [--threads T] [--only SUBSTRING]
        [--load-dir DIR] [--json]

`--load-dir DIR` writes (once) a 256 MiB state_dict there as big.h5, big.pt, big_legacy.pt and
big.safetensors and times loading each.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
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
    # torch.export programs (issues 17 and 19); pt2:resnet18 is the registry's resnet18 as a graph.
    ("pt2:resnet18", 1, 3, 224, 224), ("pt2:resnet18", 8, 3, 224, 224), ("pt2:mobilenet_v2", 1, 3, 224, 224), ("pt2:mobilenet_v2", 8, 3, 224, 224),
    ("pt2:efficientnet_b0", 1, 3, 224, 224), ("pt2:efficientnet_b0", 8, 3, 224, 224),
    ("pt2:densenet121", 1, 3, 224, 224), ("pt2:densenet121", 8, 3, 224, 224),
]
# Training steps (forward, backward, Adam) of issue 18: zoo bench train vs PyTorch eager.
TRAIN_CASES = [("simplecnn", 64, 3, 32, 32), ("resnet18", 8, 3, 224, 224)]


def make_model(name):
    """The registry's model, or for `pt2:NAME` torchvision's NAME, with fresh weights (seed 0)."""
    torch.manual_seed(0)
    if name.startswith("pt2:"):
        import torchvision
        return torchvision.models.get_model(name[4:], weights=None).eval()
    return REGISTRY[name]().eval()


def exported_program(name, batch, channels, height, width):
    """`name`'s torch.export program for this input shape, written once to the temporary directory."""
    path = os.path.join(tempfile.gettempdir(), f"zoo-bench-{name[4:]}-b{batch}-{height}x{width}.pt2")
    if not os.path.exists(path):
        model = make_model(name)
        x = torch.rand(batch, channels, height, width) * 2 - 1
        with torch.no_grad():
            torch.export.save(torch.export.export(model, (x,)), path[:-4] + ".partial.pt2")
        os.replace(path[:-4] + ".partial.pt2", path)
    return path


def zoo(*args):
    binary = os.environ.get("ZOO_BIN", os.path.join(ROOT, ".build/release/zoo"))
    result = subprocess.run([binary, *args, "--json"], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"zoo {' '.join(args)} failed: {result.stderr}")
    return json.loads(result.stdout)


def timed(run, repeat, warmup):
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[0], times[len(times) // 2]


def torch_forward(name, batch, channels, height, width, repeat, warmup):
    model = make_model(name)
    x = torch.rand(batch, channels, height, width) * 2 - 1
    with torch.no_grad():
        return timed(lambda: model(x), repeat, warmup)


def torch_train(name, batch, channels, height, width, repeat, warmup):
    """One training step as the seeds write it: zero_grad, forward in train mode, cross-entropy
    against random classes, backward, Adam(lr=0.001).step()."""
    torch.manual_seed(0)
    model = REGISTRY[name]().train()
    x = torch.rand(batch, channels, height, width) * 2 - 1
    classes = model(x).shape[1]
    y = torch.randint(0, classes, (batch,))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return timed(step, repeat, warmup)


def onnxruntime_forward(name, batch, channels, height, width, repeat, warmup, threads):
    import onnxruntime
    model = make_model(name)
    x = torch.rand(batch, channels, height, width) * 2 - 1
    path = os.path.join(tempfile.gettempdir(), f"zoo-bench-{name.replace(':', '-')}-{batch}-{height}x{width}.onnx")
    if not os.path.exists(path):
        torch.onnx.export(model, (x,), path, dynamo=False, input_names=["x"], output_names=["y"])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy()}
    return timed(lambda: session.run(None, feed), repeat, warmup)


def peer(engine, case, repeat, warmup, threads):
    """One engine on one case in a fresh Python process, so that neither's thread pool spins
    against the other's."""
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", engine, *map(str, case), "--repeat", str(repeat),
                             "--warmup", str(warmup), "--threads", str(threads)], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{engine} {case} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def rounds(count, engines):
    """Each engine run `count` times, the engines alternating: each one's fastest round (zoo's
    report with its `min_ms` the fastest and `median_ms` the median of the rounds' medians; a
    peer's (min, median) likewise)."""
    results = [[] for _ in engines]
    for _ in range(max(1, count)):
        for index, engine in enumerate(engines):
            results[index].append(engine())
    merged = []
    for runs in results:
        if isinstance(runs[0], dict):
            best = dict(min(runs, key=lambda run: run["min_ms"]))
            best["median_ms"] = sorted(run["median_ms"] for run in runs)[len(runs) // 2]
            merged.append(best)
        else:
            merged.append((min(run[0] for run in runs), sorted(run[1] for run in runs)[len(runs) // 2]))
    return merged


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
    """h5py reading every tensor of `path`, each time in a fresh Python process (issue 19 compares
    loads in a fresh process: a warm process would reuse the pages its last arrays freed, which
    `zoo bench load` gives back before each timed read); only the read itself is timed."""
    script = ("import sys, time, h5py\n"
              "start = time.perf_counter()\n"
              "with h5py.File(sys.argv[1], 'r') as f:\n"
              "    arrays = {key: f[key][()] for key in f}\n"
              "print((time.perf_counter() - start) * 1000)\n")
    times = []
    for _ in range(repeat):
        result = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True, check=True)
        times.append(float(result.stdout.strip()))
    times.sort()
    return times[0], times[len(times) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1, help="fresh processes per engine and case, alternating; fastest kept")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--load-dir")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--train-only", action="store_true", help="only the training-step cases")
    parser.add_argument("--loads-only", action="store_true", help="only the loads (with --load-dir)")
    parser.add_argument("--only", help="run only the forward cases whose name contains this")
    parser.add_argument("--one", nargs=6, metavar=("ENGINE", "ARCH", "BATCH", "CHANNELS", "HEIGHT", "WIDTH"),
                        help="time one engine (torch, onnxruntime) on one case and print JSON (used by the main run)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.one:
        engine, name, *sizes = args.one
        batch, channels, height, width = map(int, sizes)
        if engine == "torch-train":
            result = torch_train(name, batch, channels, height, width, args.repeat, args.warmup)
        elif engine == "torch":
            result = torch_forward(name, batch, channels, height, width, args.repeat, args.warmup)
        else:
            result = onnxruntime_forward(name, batch, channels, height, width, args.repeat, args.warmup, args.threads)
        print(json.dumps(result))
        return
    rows = []
    for case in [] if args.loads_only else TRAIN_CASES:
        name, batch, channels, height, width = case
        if args.only and args.only not in f"train {name} b{batch}":
            continue
        report, torch_times = rounds(args.rounds, [
            lambda: zoo("bench", "train", name, "--batch", str(batch), "--height", str(height), "--width", str(width),
                        "--repeat", str(args.repeat)),
            lambda: peer("torch-train", case, args.repeat, args.warmup, args.threads)])
        rows.append({"case": f"train {name} b{batch} {height}x{width}", "zoo_min_ms": report["min_ms"],
                     "zoo_median_ms": report["median_ms"], "reference": f"torch {torch.__version__}",
                     "reference_min_ms": torch_times[0], "reference_median_ms": torch_times[1],
                     "zoo_peak_rss_bytes": report["peak_rss_bytes"]})
    for case in [] if args.train_only or args.loads_only else FORWARD_CASES:
        name, batch, channels, height, width = case
        if args.only and args.only not in f"{name} b{batch}":
            continue
        model = exported_program(*case) if name.startswith("pt2:") else name
        report, torch_times, onnx_times = rounds(args.rounds, [
            lambda: zoo("bench", "forward", model, "--batch", str(batch), "--height", str(height), "--width", str(width),
                        "--repeat", str(args.repeat), "--warmup", str(args.warmup), "--threads", str(args.threads)),
            lambda: peer("torch", case, args.repeat, args.warmup, args.threads),
            lambda: peer("onnxruntime", case, args.repeat, args.warmup, args.threads)])
        best = min(torch_times[0], onnx_times[0])
        rows.append({"case": f"{name} b{batch} {height}x{width}", "zoo_min_ms": report["min_ms"], "zoo_median_ms": report["median_ms"],
                     "reference": f"torch {torch.__version__}", "reference_min_ms": torch_times[0], "reference_median_ms": torch_times[1],
                     "onnxruntime_min_ms": onnx_times[0], "onnxruntime_median_ms": onnx_times[1], "best_peer_min_ms": best})
    if args.load_dir:
        paths = make_load_files(args.load_dir)
        # Like the forward cases: rounds of fresh processes, every format and h5py alternating.
        reads = max(3, args.repeat // 4)
        *merged, reference = rounds(args.rounds, [
            *[lambda path=path: zoo("bench", "load", path, "--repeat", str(reads)) for path in paths.values()],
            lambda: h5py_load(paths["h5"], reads)])
        loads = dict(zip(paths.keys(), merged))
        for kind, path in paths.items():
            report = loads[kind]
            rows.append({"case": f"load {os.path.basename(path)} ({report['bytes'] / 2**20:.0f} MiB)", "zoo_min_ms": report["min_ms"],
                         "zoo_median_ms": report["median_ms"], "reference": "h5py .h5", "reference_min_ms": reference[0],
                         "reference_median_ms": reference[1], "zoo_peak_rss_bytes": report["peak_rss_bytes"]})
    for row in rows:
        row["ratio_min"] = row["zoo_min_ms"] / row.get("best_peer_min_ms", row["reference_min_ms"])
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{os.cpu_count()} cores, {args.threads} threads, torch {torch.__version__}, repeat {args.repeat}, rounds {args.rounds}, "
          f"{time.strftime('%H:%M:%S')}; ratio = zoo / the faster peer")
    print(f"{'case':<34}{'zoo min':>9}{'median':>9}   {'reference':<22}{'min':>9}{'median':>9}{'onnxrt':>9}{'median':>9}{'ratio':>8}")
    for row in rows:
        onnx = (f"{row['onnxruntime_min_ms']:>9.2f}{row['onnxruntime_median_ms']:>9.2f}" if "onnxruntime_min_ms" in row
                else f"{'-':>9}{'-':>9}")
        print(f"{row['case']:<34}{row['zoo_min_ms']:>9.2f}{row['zoo_median_ms']:>9.2f}   {row['reference']:<22}"
              f"{row['reference_min_ms']:>9.2f}{row['reference_median_ms']:>9.2f}{onnx}{row['ratio_min']:>8.2f}")


if __name__ == "__main__":
    main()
