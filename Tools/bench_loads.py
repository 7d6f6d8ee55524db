"""Loads: time and peak memory of `zoo inspect`, `zoo bench load` and `zoo verify` on checkpoints
of a few huge tensors and of many small ones, in every format zoo reads, against h5py,
torch.load and safetensors reading the same files, each in a fresh process, in the same run.

    swift build -c release
    .venv-torch/bin/python Tools/bench_loads.py [--dir /tmp/zoo-loads] [--rounds 3]
        [--cases big,mid,small] [--formats h5,pt,legacy,safetensors,pt2] [--in-process] [--json]

Files are written once into --dir (about 4 GB for all three cases in five formats):

- big: 4 float32 tensors of 64 MiB; mid: 128 of 4 MiB; small: 20,000 of 1 KiB.

For each file, every round (fastest round kept for times, the largest for memory):

- load ms: `zoo bench load FILE --repeat 1 --json`'s one in-process read (the first in that
  process; the contained read before it is not timed), beside h5py (`.h5`), `torch.load`
  (`weights_only=True`; both torch formats) and `safetensors.numpy.load_file` timed the same way,
  in a fresh Python process, after the imports.
- wall ms and memory of each zoo command as a user runs it (contained: the `zoo` process and its
  reader child). Memory is reported three ways, in MiB:
  - `max`: the larger of the two processes' peak RSS, exactly (wait4's ru_maxrss, what
    `/usr/bin/time -v` prints);
  - `sum`: the peak of parent RSS + child RSS, sampled every millisecond from /proc;
  - `held`: the peak of parent PSS + child PSS + the scratch file in /dev/shm, sampled likewise:
    the memory the machine actually gives the command (shared library pages counted once).
  The bound is 1.3 x the tensors' bytes + 40 MiB.
- `zoo bench load --json` also reports the parent's peak (`peak_rss_bytes`) and the reader
  child's (`reader_peak_rss_bytes`), exactly: what the child costs.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1 << 20

# name: (tensor count, float32 elements per tensor)
CASES = {
    "big": (4, 16 << 20),
    "mid": (128, 1 << 20),
    "small": (20_000, 256),
}
FORMATS = {"h5": "h5", "pt": "pt", "legacy": "legacy.pt", "safetensors": "safetensors", "pt2": "pt2"}
PEERS = {"h5": "h5py", "pt": "torch.load", "legacy": "torch.load", "safetensors": "safetensors"}


def state(case):
    import numpy as np
    count, elements = CASES[case]
    generator = np.random.default_rng(0)
    return {f"layer{i}.weight": generator.standard_normal(elements, dtype=np.float32) for i in range(count)}


def make_files(folder, case, formats):
    paths = {kind: os.path.join(folder, f"{case}.{FORMATS[kind]}") for kind in formats}
    missing = [kind for kind, path in paths.items() if not os.path.exists(path)]
    if not missing:
        return paths
    os.makedirs(folder, exist_ok=True)
    arrays = state(case)
    for kind in missing:
        path = paths[kind]
        temporary = path + ".partial"
        if kind == "h5":
            import h5py
            with h5py.File(temporary, "w") as f:
                for key, value in arrays.items():
                    f.create_dataset(key, data=value)
        elif kind == "safetensors":
            from safetensors.numpy import save_file
            save_file(arrays, temporary)
        else:
            import torch
            tensors = {key: torch.from_numpy(value) for key, value in arrays.items()}
            if kind == "pt":
                torch.save(tensors, temporary)
            elif kind == "legacy":
                torch.save(tensors, temporary, _use_new_zipfile_serialization=False)
            else:
                torch.export.save(exported(tensors), temporary)
        os.rename(temporary, path)
    return paths


def exported(tensors):
    """A program whose parameters are the tensors (flat names: torch.export keeps them as given)."""
    import torch

    class Holder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = torch.nn.ParameterList([torch.nn.Parameter(t, requires_grad=False) for t in tensors.values()])

        def forward(self, x):
            return x + self.weights[0][:1]

    return torch.export.export(Holder(), (torch.zeros(1),))


PEER_SCRIPT = r"""
import json, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
if kind == "h5":
    import h5py
    def load():
        with h5py.File(path, "r") as f:
            return {key: f[key][()] for key in f}
elif kind == "safetensors":
    from safetensors.numpy import load_file
    def load():
        return load_file(path)
else:
    import torch
    torch.set_num_threads(2)
    def load():
        return torch.load(path, weights_only=True, mmap=False)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
start = time.perf_counter()
loaded = load()
ms = (time.perf_counter() - start) * 1000
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"ms": ms, "peak": peak, "before": before, "tensors": len(loaded)}))
"""


def peer(kind, path):
    result = subprocess.run([sys.executable, "-c", PEER_SCRIPT, kind, path], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{PEERS[kind]} on {path} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def scratch_bytes(pid):
    total = 0
    for path in glob.glob(f"/dev/shm/zoo-read-{pid}-*"):
        try:
            total += os.stat(path).st_blocks * 512
        except OSError:
            pass
    return total


def measured(command, env):
    """Runs `command`, sampling its process tree's memory every millisecond; wait4 gives the exact
    peak RSS of the larger of the zoo process and its reader child."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    rss_sum = held = 0
    output = b""
    os.set_blocking(process.stdout.fileno(), False)
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        try:
            piece = process.stdout.read()
            if piece:
                output += piece
        except BlockingIOError:
            pass
        if pid:
            break
        pids = [process.pid] + children(process.pid)
        rss_sum = max(rss_sum, sum(status_kib(p, "VmRSS") for p in pids) * 1024)
        held = max(held, sum(pss_kib(p) for p in pids) * 1024 + scratch_bytes(process.pid))
        time.sleep(0.001)
    wall = (time.perf_counter() - start) * 1000
    os.set_blocking(process.stdout.fileno(), True)
    output += process.stdout.read() or b""
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "max": usage.ru_maxrss * 1024, "rss_sum": rss_sum, "held": held,
            "code": process.returncode, "out": output.decode()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", default=os.path.join(ROOT, ".build/release/zoo"))
    parser.add_argument("--dir", default="/tmp/zoo-loads")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="big,mid,small")
    parser.add_argument("--formats", default="h5,pt,legacy,safetensors,pt2")
    parser.add_argument("--commands", default="inspect,bench,verify")
    parser.add_argument("--in-process", action="store_true", help="run zoo with ZOO_IN_PROCESS=1 (no reader child)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.in_process:
        env["ZOO_IN_PROCESS"] = "1"
    formats = args.formats.split(",")
    commands = args.commands.split(",")
    rows = []
    print(f"# {time.strftime('%H:%M:%S', time.gmtime())} UTC, {args.rounds} rounds, "
          f"{'in-process' if args.in_process else 'contained'}", flush=True)
    for case in args.cases.split(","):
        paths = make_files(args.dir, case, formats)
        count, elements = CASES[case]
        tensor_bytes = count * elements * 4
        bound = 1.3 * tensor_bytes + 40 * MiB
        for kind in formats:
            path = paths[kind]
            row = {"case": case, "format": kind, "tensors": count, "tensor_mib": tensor_bytes / MiB,
                   "bound_mib": bound / MiB}
            for _ in range(args.rounds):
                if kind in PEERS:
                    result = peer(kind, path)
                    row["peer"] = PEERS[kind]
                    row["peer_ms"] = min(row.get("peer_ms", float("inf")), result["ms"])
                    row["peer_peak_mib"] = max(row.get("peer_peak_mib", 0), result["peak"] / MiB)
                if "h5" in paths and kind != "h5":
                    row["h5py_ms"] = min(row.get("h5py_ms", float("inf")), peer("h5", paths["h5"])["ms"])
                for command in commands:
                    argv = {"inspect": [args.zoo, "inspect", path, "--json"],
                            "bench": [args.zoo, "bench", "load", path, "--repeat", "1", "--json"],
                            "verify": [args.zoo, "verify", path, "--json"]}[command]
                    result = measured(argv, env)
                    if command == "bench":
                        if result["code"] != 0:
                            raise SystemExit(f"{' '.join(argv)} failed with {result['code']}")
                        report = json.loads(result["out"])
                        row["load_ms"] = min(row.get("load_ms", float("inf")), report["min_ms"])
                        row["parent_peak_mib"] = max(row.get("parent_peak_mib", 0), report["peak_rss_bytes"] / MiB)
                        if "reader_peak_rss_bytes" in report:
                            row["child_peak_mib"] = max(row.get("child_peak_mib", 0), report["reader_peak_rss_bytes"] / MiB)
                    # verify fails (1) on files no registry model fits, and a .pt2 whose program
                    # calls an operator zoo lacks is 2 after it was read: the read is what is measured.
                    elif result["code"] not in ((0, 1, 2) if kind == "pt2" else (0, 1)):
                        raise SystemExit(f"{' '.join(argv)} failed with {result['code']}")
                    row[f"{command}_wall_ms"] = min(row.get(f"{command}_wall_ms", float("inf")), result["wall"])
                    for measure in ("max", "rss_sum", "held"):
                        key = f"{command}_{measure}_mib"
                        row[key] = max(row.get(key, 0), result[measure] / MiB)
            if "h5py_ms" not in row and kind == "h5":
                row["h5py_ms"] = row["peer_ms"]
            rows.append(row)
            print(line(row, commands), flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))


def line(row, commands):
    cells = [f"{row['case']:5} {row['format']:11} {row['tensor_mib']:6.0f} MiB (bound {row['bound_mib']:4.0f})"]
    if "load_ms" in row:
        ratio = row["load_ms"] / row["h5py_ms"] if row.get("h5py_ms") else float("nan")
        peer_text = f"{row['peer']} {row['peer_ms']:6.1f}" if "peer" in row else "-"
        cells.append(f"load {row['load_ms']:6.1f} ms, h5py {row.get('h5py_ms', float('nan')):6.1f} (x{ratio:4.2f}), {peer_text}")
        child = f", child {row['child_peak_mib']:4.0f}" if "child_peak_mib" in row else ""
        cells.append(f"bench parent {row['parent_peak_mib']:4.0f}{child}")
    for command in commands:
        over = "!" if row[f"{command}_max_mib"] > row["bound_mib"] else " "
        cells.append(f"{command} {row[f'{command}_wall_ms']:6.0f} ms max {row[f'{command}_max_mib']:4.0f}{over}"
                     f" sum {row[f'{command}_rss_sum_mib']:4.0f} held {row[f'{command}_held_mib']:4.0f}")
    return " | ".join(cells)


if __name__ == "__main__":
    main()
