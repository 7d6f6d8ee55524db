#!/usr/bin/env python3
"""Fits the polynomial zoo's vector kernels use for exp (Sources/CKernels/exponential.c).

exp(r) on [-ln 2 / 2, ln 2 / 2], the range left after taking out a power of two, as
1 + r + c2 r^2 + ... + c6 r^6: the first two coefficients are fixed so that exp(0) = 1 and the
slope is exact, and the rest minimise the largest relative error (Lawson's iteration: least
squares, reweighted towards the points of largest error, which converges on the minimax fit).
Prints the coefficients as float32 and the largest relative error of the float32 evaluation on
a dense grid; the degree-6 fit is within 4e-9 before rounding, far under a float's 6e-8.

    python3 Tools/fit_exp_polynomial.py [degree]
"""
import sys

import numpy as np

degree = int(sys.argv[1]) if len(sys.argv) > 1 else 6
half = np.log(2) / 2
points = np.cos(np.linspace(0, np.pi, 4001)) * half
powers = np.stack([points ** (k + 2) for k in range(degree - 1)], axis=1)
target = np.exp(points)
weights = np.ones_like(points)
for _ in range(60):
    scaled = weights / target
    coefficients, *_ = np.linalg.lstsq(powers * scaled[:, None], (target - 1 - points) * scaled, rcond=None)
    error = (1 + points + powers @ coefficients - target) / target
    weights = weights * np.sqrt(np.abs(error) / np.abs(error).max()) + 1e-12
    weights /= weights.max()

single = coefficients.astype(np.float32)
grid = np.linspace(-half, half, 200_001).astype(np.float32)
value = np.float32(0)
for c in [*single[::-1], np.float32(1), np.float32(1)]:
    value = value * grid + c
exact = np.exp(grid.astype(np.float64))
print(f"degree {degree}: largest relative error {np.abs(error).max():.2e} (fit), "
      f"{np.abs((value.astype(np.float64) - exact) / exact).max():.2e} (float32 Horner)")
for k, c in enumerate(single, start=2):
    print(f"c{k} = {float(c)!r}")
