#!/usr/bin/env python3
"""PyTorch's forward-pass timings for the cases of `swift run -c release zoo-bench`, same machine.

    .venv-torch/bin/python Tools/bench_torch.py [repetitions]
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # zoo_models
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))  # zoo_h5
from zoo_models import INPUT_SHAPES, REGISTRY  # noqa: E402

CASES = [("simplecnn", 64), ("encdec", 16), ("net", 64), ("resnet18", 1), ("resnet18", 8)]


def main(repetitions):
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("model       batch  input            median ms  min ms")
    for name, batch in CASES:
        torch.manual_seed(0)
        model = REGISTRY[name]().eval()
        x = torch.rand((batch,) + INPUT_SHAPES[name]) * 2 - 1
        with torch.no_grad():
            model(x)
            times = []
            for _ in range(repetitions):
                start = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - start) * 1000)
        times.sort()
        shape = "x".join(map(str, INPUT_SHAPES[name]))
        print(f"{name:<12}{batch:<7}{shape:<17}{times[len(times) // 2]:9.2f}  {times[0]:6.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
