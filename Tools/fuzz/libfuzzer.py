#!/usr/bin/env python3
"""Coverage-guided fuzzing of each of zoo's readers in-process, with libFuzzer and AddressSanitizer.

    python3 Tools/fuzz/libfuzzer.py [--seconds 300] [--readers hdf5,npy,...] [--jobs 2] [--json]

Builds `Fuzz/` (every Swift module instrumented: `-sanitize=fuzzer,address`), then runs the
harness once per reader (`ZOO_FUZZ_READER`) in libFuzzer's fork mode, which goes on past a
crash, a hang (10 s per input) or an out-of-memory input (2 GiB). Seeds are the real files of
`mutate.py`; the corpus grows in .build/fuzz/corpus/<reader>.

AddressSanitizer runs as the C library would in production for two settings: a huge `malloc`
returns NULL (glibc's behaviour, which libhdf5 checks), and leaks are not reported (libhdf5
leaks on its own error paths).

Every finding is replayed on its own and sorted by where it happened: `libhdf5` (the top frame
that is not the sanitizer's is in libhdf5, or in zlib under its filter), `zoo` (in zoo's code or any other library), or `not
reproducible` (it needed the state earlier inputs left in the process; libhdf5 keeps global
state). Each is then given to `zoo inspect` (contained, what users run), which must answer
with exit 0, 1 or 2. Findings are kept in .build/fuzz/findings/<reader>/.

Prints per reader: inputs tried, crashes, hangs and out-of-memory inputs with their classes.
Exits 1 when a finding is in zoo's own code or the command line crashed or hung on one.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
from mutate import EXTENSIONS, SEEDS, command  # noqa: E402

WORK = os.path.join(ROOT, ".build", "fuzz")
HARNESS = os.path.join(ROOT, "Fuzz", ".build", "debug", "ZooFuzz")
SANITIZER = "allocator_may_return_null=1:detect_leaks=0:handle_abort=1"
# Frames of the sanitizer, libFuzzer and the C library's own copy routines say nothing about
# whose bug it is; the first frame after them does.
NEUTRAL = re.compile(r"libclang_rt|compiler-rt|sanitizer|asan_|__interceptor|__asan|memmove|memcpy|memset|libc\.so|fuzzer::")


def build():
    result = subprocess.run(
        ["swift", "build", "-c", "debug", "-Xswiftc", "-sanitize=fuzzer,address", "-Xswiftc", "-parse-as-library"],
        cwd=os.path.join(ROOT, "Fuzz"), capture_output=True, text=True)
    if result.returncode != 0:
        errors = [line for line in result.stdout.splitlines() + result.stderr.splitlines() if "error" in line]
        raise SystemExit("building Fuzz/ failed:\n" + "\n".join(errors[-20:]))


def seed_corpus(reader):
    corpus = os.path.join(WORK, "corpus", reader)
    os.makedirs(corpus, exist_ok=True)
    for path in SEEDS[reader]:
        if os.path.exists(path):
            data = open(path, "rb").read()
            target = os.path.join(corpus, hashlib.sha1(data).hexdigest())
            if not os.path.exists(target):
                with open(target, "wb") as f:
                    f.write(data)
    return corpus


def environment(reader):
    env = dict(os.environ)
    env.update(ZOO_FUZZ_READER=reader, ASAN_OPTIONS=SANITIZER, OMP_NUM_THREADS="1")
    return env


def fuzz(reader, seconds, jobs):
    corpus = seed_corpus(reader)
    findings = os.path.join(WORK, "findings", reader)
    os.makedirs(findings, exist_ok=True)
    before = set(os.listdir(findings))
    log_path = os.path.join(WORK, f"{reader}.log")
    largest = max((os.path.getsize(p) for p in glob.glob(os.path.join(corpus, "*"))), default=4096)
    with open(log_path, "w") as log:
        subprocess.run(
            [HARNESS, corpus, f"-fork={jobs}", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1",
             f"-max_total_time={int(seconds)}", "-timeout=10", "-rss_limit_mb=2048", f"-max_len={max(4096, largest * 2)}",
             f"-artifact_prefix={findings}/"],
            env=environment(reader), stdout=log, stderr=subprocess.STDOUT, cwd=WORK, timeout=seconds + 300)
    # Fork mode's status lines: "#61560: cov: 1581 ft: 4363 corp: 120 exec/s: 180 oom/timeout/crash: 0/0/18 time: 70s ...".
    status = [line for line in open(log_path, errors="replace") if re.match(r"#\d+: cov:", line)]
    inputs = int(re.match(r"#(\d+):", status[-1]).group(1)) if status else 0
    new = sorted(set(os.listdir(findings)) - before)
    return inputs, [os.path.join(findings, name) for name in new], log_path


def remove_scratch_files(reader):
    """The harness removes its scratch file at exit, but jobs that fork mode kills and replays of
    crashing inputs do not exit: their files would stay in /dev/shm's memory. The pid in each
    name says whether its process is gone."""
    for folder in ("/dev/shm", tempfile.gettempdir()):
        for path in glob.glob(os.path.join(folder, f"zoo-fuzz-*-{reader}")):
            pid = os.path.basename(path)[len("zoo-fuzz-"):-len(reader) - 1]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                os.unlink(path)


def classify(reader, path):
    """Where the finding happened, from a replay of the input alone."""
    try:
        result = subprocess.run([HARNESS, path, "-timeout=10", "-rss_limit_mb=2048"], env=environment(reader),
                                capture_output=True, text=True, errors="replace", timeout=120, cwd=WORK)
        output = result.stdout + result.stderr
        if result.returncode == 0:
            return "not reproducible"
    except subprocess.TimeoutExpired:
        return "zoo"  # the replay itself hung past libFuzzer's own limit
    frames = [line for line in output.splitlines() if re.match(r"\s+#\d+ 0x", line)]
    for frame in frames:
        if NEUTRAL.search(frame):
            continue
        # zlib runs under libhdf5's deflate filter.
        return "libhdf5" if "libhdf5" in frame or "libz.so" in frame else "zoo"
    return "zoo"


def through_the_command_line(reader, path, zoo):
    """What users get: the command that reads such a file, contained (exit 0, 1 or 2)."""
    copy = path + EXTENSIONS[reader]
    shutil.copyfile(path, copy)
    try:
        result = subprocess.run(command(reader, copy, zoo, 5), capture_output=True, text=True, timeout=60, cwd=ROOT)
        return "ok" if result.returncode in (0, 1, 2) else f"exit {result.returncode}"
    except subprocess.TimeoutExpired:
        return "hang"
    finally:
        os.unlink(copy)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300, help="fuzzing time per reader")
    parser.add_argument("--readers", default=",".join(SEEDS))
    parser.add_argument("--jobs", type=int, default=1, help="libFuzzer fork-mode jobs per reader")
    parser.add_argument("--zoo", default=os.path.join(ROOT, ".build", "debug", "zoo"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    build()
    rows = []
    failed = False
    for reader in args.readers.split(","):
        started = time.time()
        inputs, found, log_path = fuzz(reader, args.seconds, args.jobs)
        kinds = {"crash": 0, "timeout": 0, "oom": 0}
        classes = {}
        for path in found:
            kind = os.path.basename(path).split("-")[0]
            if kind not in kinds:
                continue
            kinds[kind] += 1
            where = classify(reader, path)
            cli = through_the_command_line(reader, path, args.zoo)
            classes[where] = classes.get(where, 0) + 1
            if where == "zoo" or cli != "ok":
                failed = True
                print(f"FINDING {reader}: {kind} in {where}, zoo command line: {cli}: {path}", file=sys.stderr)
        if inputs == 0:
            # Every fork-mode job died without an input to blame (a job's inputs count only when it
            # ends): the torch-zip jobs once all did, hiding a fault that corrupted memory at exit.
            failed = True
            print(f"FINDING {reader}: no input counted; every job died without a finding: {log_path}", file=sys.stderr)
        remove_scratch_files(reader)
        rows.append({"reader": reader, "inputs": inputs, "seconds": round(time.time() - started), "crashes": kinds["crash"],
                     "hangs": kinds["timeout"], "out_of_memory": kinds["oom"], "where": classes, "log": log_path})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print("| reader | inputs | crashes | hangs | out of memory | where |\n|---|---|---|---|---|---|")
        for row in rows:
            where = ", ".join(f"{name}: {count}" for name, count in sorted(row["where"].items())) or "-"
            print(f"| {row['reader']} | {row['inputs']:,} | {row['crashes']} | {row['hangs']} | {row['out_of_memory']} | {where} |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
