"""PyTorch's results for zoo's own element-wise kernels (Sources/CKernels), written to
Tests/NNTests/Fixtures/kernels.h5:

- silu/input, silu/output: torch.nn.functional.silu of float32 values over the whole range: a
  dense grid on [-100, 100], the edges where exp overflows and underflows, normal and
  subnormal tiny values, both infinities, NaN and both zeros, then random normal values;
- sigmoid/input, sigmoid/output: torch.sigmoid of the same values.

    .venv-torch/bin/python Tools/make_kernel_fixtures.py [Tests/NNTests/Fixtures/kernels.h5]
"""
import os
import sys

import h5py
import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def silu_inputs():
    special = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-30, -1e-30, 1e-40, -1e-40, 3.4e38, -3.4e38,
               87.0, -87.0, 87.5, -87.5, 88.5, -88.5, 88.8, -88.8, 103.0, -103.0, 150.0, -150.0, 151.0, -151.0]
    edges = np.concatenate([np.linspace(-110, -80, 301), np.linspace(80, 110, 301)])
    grid = np.linspace(-100, 100, 20001)
    generator = np.random.default_rng(0)
    random = generator.standard_normal(19_372) * 4
    return np.concatenate([special, edges, grid, random]).astype(np.float32)


def main(path):
    x = silu_inputs()
    with h5py.File(path, "w") as f:
        for name, function in [("silu", torch.nn.functional.silu), ("sigmoid", torch.sigmoid)]:
            f[f"{name}/input"] = x
            f[f"{name}/output"] = function(torch.from_numpy(x)).numpy()
    print(f"wrote {path}: silu and sigmoid of {x.size} values")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests/NNTests/Fixtures/kernels.h5"))
