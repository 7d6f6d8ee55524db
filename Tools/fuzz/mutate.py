#!/usr/bin/env python3
"""Mutation fuzzing of every reader zoo has, through the command line.

    python3 Tools/fuzz/mutate.py [--seconds 90] [--mode contained|in-process] [--jobs 2] [--zoo PATH]

Seeds are real files (checkpoints of every container, .npy arrays, PNG and JPEG pictures). Each
input is a seed with one mutation: bit flips in the first 4 KiB, random bytes anywhere, a
truncation, a zeroed run or a duplicated run. Each is given to the command that reads it:
`zoo inspect` for checkpoints, `zoo run --input` for .npy, `zoo run --image` for pictures.

`--mode contained` (the default, what users get) requires exit 0, 1 or 2 for every input, zoo's
own reading limit set to 5 s (a reader that loops longer is stopped by zoo: exit 2). `--mode in-process` sets ZOO_IN_PROCESS=1 so that the readers run inside the
process that parses the file: crashes there are bugs of a reader (zoo's or a C library's),
which containment turns into exit 2. Crashing and hanging inputs are saved under
Tools/fuzz/findings/<mode>/<reader>/. Prints, per reader, inputs tried, crashes and hangs; exits 1
when a contained run crashed or hung.
"""
import argparse
import collections
import concurrent.futures
import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TORCH = os.path.join(ROOT, "Tests", "CheckpointTests", "Fixtures", "torch")
PICTURES = os.path.join(ROOT, "Tests", "PicturesTests", "Fixtures")

SEEDS = {
    "hdf5": [os.path.join(ROOT, "Zoo", f) for f in ("cnnmodel.h5", "edgedetect.h5", "net.h5")]
            + sorted(glob.glob(os.path.join(ROOT, "Tests", "CheckpointTests", "Fixtures", "interop", "*.h5")))[:6],
    "torch-zip": [os.path.join(TORCH, f) for f in ("dtypes_zip.pt", "views_zip.pt", "wrapper.pt")],
    "torch-legacy": [os.path.join(TORCH, f) for f in ("dtypes_legacy.pt", "views_legacy.pt", "old_batchnorm.bin")],
    "safetensors": [os.path.join(TORCH, "dtypes.safetensors")],
    "pt2": [os.path.join(ROOT, "Tests", "CheckpointTests", "Fixtures", "pt2", "encdec.pt2")],
    "npy": sorted(glob.glob(os.path.join(ROOT, "Tests", "ModelZooTests", "Fixtures", "*.input.npy")))[:3],
    "png": [os.path.join(PICTURES, f) for f in ("rgb_landscape.png", "palette.png", "grey16.png", "grey_alpha.png")],
    "jpeg": [os.path.join(PICTURES, f) for f in ("baseline.jpg", "progressive.jpg", "grey.jpg")],
}
EXTENSIONS = {"hdf5": ".h5", "torch-zip": ".pt", "torch-legacy": ".pt", "safetensors": ".safetensors", "pt2": ".pt2", "npy": ".npy",
              "png": ".png", "jpeg": ".jpg"}


def command(reader, path, zoo, limit):
    """The command that reads `path`; contained runs give zoo's own reading limit (--timeout)."""
    limit = ["--timeout", str(limit)] if limit else []
    if reader == "npy":
        return [zoo, "run", os.path.join(ROOT, "Zoo", "cnnmodel.h5"), "--input", path, "--output", os.devnull] + limit
    if reader in ("png", "jpeg"):
        return [zoo, "run", os.path.join(ROOT, "Zoo", "digits.h5"), "--image", path, "--top", "1"] + limit
    return [zoo, "inspect", path] + limit


def mutate(data, rng):
    data = bytearray(data)
    kind = rng.choice(["flip", "flip", "random", "truncate", "zero", "duplicate"])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(min(len(data), 4096))
            data[position] ^= 1 << rng.randrange(8)
    elif kind == "random":
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == "truncate":
        data = data[: rng.randrange(len(data))]
    elif kind == "zero":
        start = rng.randrange(len(data))
        length = rng.randint(1, 256)
        data[start:start + length] = bytes(len(data[start:start + length]))
    else:
        start = rng.randrange(len(data))
        length = rng.randint(1, 256)
        data[start:start] = data[start:start + length]
    return bytes(data), kind


def run_one(job):
    reader, seed_path, data, zoo, mode, timeout, folder = job
    path = os.path.join(folder, f"input-{os.getpid()}-{random.randrange(1 << 30)}{EXTENSIONS[reader]}")
    with open(path, "wb") as f:
        f.write(data)
    environment = dict(os.environ)
    if mode == "in-process":
        environment["ZOO_IN_PROCESS"] = "1"
    # Contained, zoo stops a reader after 5 s itself (exit 2); a hang is zoo not returning at all.
    limit = 5 if mode == "contained" else None
    try:
        result = subprocess.run(command(reader, path, zoo, limit), capture_output=True, timeout=timeout, env=environment, cwd=ROOT)
        outcome = "ok" if result.returncode in (0, 1, 2) else ("crash" if result.returncode < 0 else f"exit {result.returncode}")
    except subprocess.TimeoutExpired:
        outcome = "hang"
    return reader, outcome, path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--mode", choices=["contained", "in-process"], default="contained")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=30, help="seconds before an input counts as a hang")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--zoo", default=None)
    args = parser.parse_args()
    zoo = args.zoo or max((p for p in (os.path.join(ROOT, ".build/release/zoo"), os.path.join(ROOT, ".build/debug/zoo"))
                           if os.access(p, os.X_OK)), key=os.path.getmtime)
    rng = random.Random(args.seed)
    seeds = {reader: [(p, open(p, "rb").read()) for p in paths if os.path.exists(p)] for reader, paths in SEEDS.items()}
    tried = collections.Counter()
    bad = collections.defaultdict(collections.Counter)
    folder = tempfile.mkdtemp(prefix="zoo-fuzz-")
    findings = os.path.join(ROOT, "Tools", "fuzz", "findings", args.mode)
    deadline = time.time() + args.seconds
    readers = [r for r in seeds if seeds[r]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        pending = set()
        while time.time() < deadline or pending:
            while time.time() < deadline and len(pending) < args.jobs * 2:
                reader = rng.choice(readers)
                seed_path, data = rng.choice(seeds[reader])
                mutated, _ = mutate(data, rng)
                tried[reader] += 1
                pending.add(pool.submit(run_one, (reader, seed_path, mutated, zoo, args.mode, args.timeout, folder)))
            done, pending = concurrent.futures.wait(pending, timeout=1, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                reader, outcome, path = future.result()
                if outcome != "ok":
                    bad[reader][outcome] += 1
                    os.makedirs(os.path.join(findings, reader), exist_ok=True)
                    shutil.copy(path, os.path.join(findings, reader, f"{outcome.replace(' ', '-')}-{os.path.basename(path)}"))
                os.remove(path)
    shutil.rmtree(folder, ignore_errors=True)
    print(f"mode {args.mode}, seed {args.seed}, {args.seconds:.0f} s, zoo {zoo}")
    print(f"{'reader':<14}{'inputs':>8}{'crashes':>9}{'hangs':>7}{'other':>7}")
    failed = False
    for reader in readers:
        counts = bad[reader]
        other = sum(v for k, v in counts.items() if k not in ("crash", "hang"))
        print(f"{reader:<14}{tried[reader]:>8}{counts['crash']:>9}{counts['hang']:>7}{other:>7}")
        failed = failed or sum(counts.values()) > 0
    if failed:
        print(f"findings saved under {findings}")
    return 1 if failed and args.mode == "contained" else 0


if __name__ == "__main__":
    sys.exit(main())
