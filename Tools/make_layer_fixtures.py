#!/usr/bin/env python3
"""Builds each layer in PyTorch over a sweep of arguments and writes inputs, state and outputs
as HDF5 fixtures for the Swift parity tests. Needs torch, h5py, numpy.

    .venv-torch/bin/python Tools/make_layer_fixtures.py Tests/NNTests/Fixtures/layers.h5

Each case is a group `<Type>/<NN_name>` with attributes `config` (a model_config layer, JSON),
`mode` ("eval" or "train") and datasets `input_K`, `output_K` for K = 0.. (run in order on the
same layer), `state/<key>` before and, for training, `state_after/<key>` after the steps.
"""
import json
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn

from zoo_h5 import model_config  # noqa: E402

torch.manual_seed(0)


def randomize(layer):
    """Random values in every parameter and buffer so that transposed or shifted weights show."""
    with torch.no_grad():
        for name, tensor in layer.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand_like(tensor) + 0.5)
            else:
                tensor.copy_(torch.randn_like(tensor))


CASES = []


def case(name, layer, shape, mode="eval", steps=1, scale=1.0, randomize_state=True):
    CASES.append((name, layer, shape, mode, steps, scale, randomize_state))


# Conv2d
case("basic", nn.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 5))
case("nonsquare_stride_padding", nn.Conv2d(3, 5, (2, 3), stride=(2, 1), padding=(1, 0)), (1, 3, 7, 9))
case("stride_larger_than_kernel", nn.Conv2d(2, 3, 2, stride=3), (1, 2, 8, 7))
case("dilation", nn.Conv2d(2, 3, 3, padding=2, dilation=2), (1, 2, 7, 8))
case("dilation_nonsquare", nn.Conv2d(2, 3, (3, 2), padding=(1, 3), dilation=(1, 3), stride=(1, 2)), (2, 2, 6, 9))
case("depthwise", nn.Conv2d(4, 4, 3, padding=1, groups=4), (1, 4, 5, 5))
case("groups_2", nn.Conv2d(4, 6, 3, groups=2, bias=False), (2, 4, 6, 6))
case("pointwise", nn.Conv2d(5, 3, 1), (2, 5, 4, 3))
case("same_even_kernel", nn.Conv2d(2, 3, 4, padding="same"), (1, 2, 7, 6))
case("same_dilated", nn.Conv2d(2, 3, (3, 2), padding="same", dilation=2), (1, 2, 7, 6))
case("valid", nn.Conv2d(2, 3, 3, padding="valid"), (1, 2, 5, 6))
for mode in ["reflect", "replicate", "circular"]:
    case(f"padding_mode_{mode}", nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode), (1, 2, 5, 6))
case("padding_mode_reflect_same", nn.Conv2d(2, 2, 4, padding="same", padding_mode="reflect"), (1, 2, 6, 7))
# Channel counts at which zoo's oneDNN kernels run: Winograd F(2x2, 3x3) (one sample) and
# F(4x4, 3x3) (a batch), and the blocked direct kernel of a strided convolution.
case("winograd_2x3", nn.Conv2d(32, 64, 3, padding=1), (1, 32, 16, 16))
case("winograd_4x3", nn.Conv2d(16, 16, 3, padding=1), (8, 16, 16, 16))
case("blocked_strided", nn.Conv2d(16, 32, 3, stride=2, padding=1), (2, 16, 16, 16))
Conv2d = CASES[:]
CASES.clear()

# ConvTranspose2d
case("k4_s2_p1", nn.ConvTranspose2d(4, 3, 4, 2, 1, bias=False), (2, 4, 4, 5))
case("output_padding", nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), (1, 3, 4, 4))
case("nonsquare", nn.ConvTranspose2d(2, 3, (2, 3), stride=(3, 2), padding=(0, 1), output_padding=(2, 1)), (1, 2, 3, 4))
case("groups_dilation", nn.ConvTranspose2d(4, 6, 3, stride=2, padding=2, groups=2, dilation=2), (2, 4, 3, 3))
case("depthwise", nn.ConvTranspose2d(3, 3, 3, groups=3), (1, 3, 4, 4))
case("stride1", nn.ConvTranspose2d(3, 2, 3, padding=1), (1, 3, 5, 4))
case("blocked", nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), (2, 32, 8, 8))
ConvTranspose2d = CASES[:]
CASES.clear()

# MaxPool2d
case("k2", nn.MaxPool2d(2), (2, 3, 6, 7))
case("ceil_window_starts_in_padding", nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 6, 6))
case("ceil_odd", nn.MaxPool2d(2, stride=2, ceil_mode=True), (1, 2, 5, 7))
case("dilation_nonsquare", nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=2), (1, 2, 8, 7))
case("stride_larger_than_kernel", nn.MaxPool2d(2, stride=3), (1, 1, 8, 8))
case("ceil_padding_dilation", nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True), (1, 2, 9, 8))
MaxPool2d = CASES[:]
CASES.clear()

# AvgPool2d
case("k2", nn.AvgPool2d(2), (2, 3, 6, 7))
case("ceil_include_pad", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 6, 6))
case("ceil_exclude_pad", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (1, 2, 6, 6))
case("ceil_window_in_padding", nn.AvgPool2d(2, stride=2, padding=1, ceil_mode=True), (1, 1, 5, 5))
case("divisor_override", nn.AvgPool2d(3, stride=1, padding=1, divisor_override=5), (1, 2, 4, 5))
case("nonsquare", nn.AvgPool2d((2, 3), stride=(1, 2)), (1, 2, 5, 7))
AvgPool2d = CASES[:]
CASES.clear()

case("avg_3x4", nn.AdaptiveAvgPool2d((3, 4)), (2, 2, 7, 9))
case("avg_1", nn.AdaptiveAvgPool2d(1), (2, 3, 5, 6))
case("avg_none_2", nn.AdaptiveAvgPool2d((None, 2)), (1, 2, 5, 7))
case("avg_upsampling", nn.AdaptiveAvgPool2d(5), (1, 1, 3, 4))
case("max_5", nn.AdaptiveMaxPool2d(5), (1, 2, 7, 9))
case("max_2x3", nn.AdaptiveMaxPool2d((2, 3)), (2, 2, 6, 5))
Adaptive = CASES[:]
CASES.clear()

case("eval", nn.BatchNorm2d(3), (2, 3, 4, 5))
case("train_momentum_0.1", nn.BatchNorm2d(3), (4, 3, 3, 2), mode="train", steps=3)
case("train_momentum_none", nn.BatchNorm2d(3, momentum=None), (2, 3, 3, 3), mode="train", steps=3)
case("train_eps_momentum", nn.BatchNorm2d(2, eps=1e-3, momentum=0.3), (3, 2, 2, 2), mode="train", steps=2)
case("no_affine_train", nn.BatchNorm2d(2, affine=False), (2, 2, 3, 3), mode="train", steps=2)
case("no_running_stats_eval", nn.BatchNorm2d(2, track_running_stats=False), (2, 2, 3, 3))
case("no_running_stats_train", nn.BatchNorm2d(2, track_running_stats=False), (2, 2, 3, 3), mode="train", steps=2)
BatchNorm2d = CASES[:]
CASES.clear()

case("rank2", nn.Linear(6, 4), (3, 6))
case("rank4_last_axis", nn.Linear(8, 5), (2, 1, 3, 8))
case("no_bias", nn.Linear(7, 3, bias=False), (2, 7))
Linear = CASES[:]
CASES.clear()

case("Flatten_default", nn.Flatten(), (2, 3, 2, 2))
case("Flatten_2_3", nn.Flatten(2, 3), (2, 3, 2, 4))
case("ReLU", nn.ReLU(), (2, 3, 4, 4))
case("LeakyReLU", nn.LeakyReLU(0.2), (2, 3, 4, 4))
case("Sigmoid", nn.Sigmoid(), (2, 3, 4, 4), scale=5.0)
case("Tanh", nn.Tanh(), (2, 3, 4, 4), scale=3.0)
case("Softplus_default", nn.Softplus(), (2, 3, 4, 4), scale=12.0)
case("Softplus_beta_threshold", nn.Softplus(beta=2, threshold=5), (2, 3, 4, 4), scale=4.0)
case("Dropout_eval", nn.Dropout(0.3), (2, 3, 4, 4))
case("Identity", nn.Identity(), (2, 3))
Elementwise = CASES[:]
CASES.clear()

case("nearest_scale2", nn.Upsample(scale_factor=2), (1, 2, 3, 4))
case("nearest_size", nn.Upsample(size=(5, 7)), (1, 2, 3, 4))
case("nearest_scale1.5", nn.Upsample(scale_factor=1.5), (1, 1, 5, 3))
case("nearest_scale_pair", nn.Upsample(scale_factor=(2, 3)), (1, 1, 2, 3))
case("nearest_down", nn.Upsample(size=(2, 3)), (1, 1, 5, 7))
for align in [False, True]:
    case(f"bilinear_scale2_align{align}", nn.Upsample(scale_factor=2, mode="bilinear", align_corners=align), (1, 2, 3, 4))
    case(f"bilinear_size_align{align}", nn.Upsample(size=(5, 7), mode="bilinear", align_corners=align), (2, 1, 3, 4))
    case(f"bilinear_down_align{align}", nn.Upsample(scale_factor=0.5, mode="bilinear", align_corners=align), (1, 1, 6, 5))
case("bilinear_default_align", nn.Upsample(scale_factor=1.7, mode="bilinear"), (1, 1, 4, 3))
Upsample = CASES[:]
CASES.clear()

# A 1x1 convolution of one-pixel planes (a squeeze-and-excitation block's) and a Linear of one
# row run on zoo's streamed product kernel: outputs past and short of its 64-column panels,
# batches, no bias, a stride that changes nothing. Made and written after the cases above, so
# that adding them left those cases' values as they were (numbered from 50).
LATER = {
    "Conv2d": [
        ("one_pixel_reduce", lambda: nn.Conv2d(1152, 48, 1), (1, 1152, 1, 1)),
        ("one_pixel_expand_batch", lambda: nn.Conv2d(48, 1152, 1), (3, 48, 1, 1)),
        ("one_pixel_no_bias_strided", lambda: nn.Conv2d(20, 70, 1, stride=2, bias=False), (2, 20, 1, 1)),
    ],
    "Linear": [
        ("one_row", lambda: nn.Linear(300, 130), (1, 300)),
        ("one_row_rank3_no_bias", lambda: nn.Linear(64, 65, bias=False), (1, 1, 64)),
    ],
}

GROUPS = {
    "Conv2d": Conv2d, "ConvTranspose2d": ConvTranspose2d, "MaxPool2d": MaxPool2d, "AvgPool2d": AvgPool2d,
    "AdaptivePool2d": Adaptive, "BatchNorm2d": BatchNorm2d, "Linear": Linear, "Elementwise": Elementwise,
    "Upsample": Upsample,
}


def write_case(group, layer, shape, mode, steps, scale, randomize_state):
    if randomize_state:
        randomize(layer)
    config = model_config(nn.Sequential(layer))["layers"][0]
    config.pop("name", None)
    group.attrs["config"] = json.dumps(config)
    group.attrs["mode"] = mode
    state = group.create_group("state")
    for key, value in layer.state_dict().items():
        state.create_dataset(key, data=value.numpy())
    layer.train(mode == "train")
    for step in range(steps):
        x = torch.randn(*shape) * scale
        with torch.no_grad():
            y = layer(x)
        group.create_dataset(f"input_{step}", data=x.numpy())
        group.create_dataset(f"output_{step}", data=y.numpy())
    if mode == "train":
        after = group.create_group("state_after")
        for key, value in layer.state_dict().items():
            after.create_dataset(key, data=value.numpy())


def main(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["torch_version"] = str(torch.__version__)
        for group_name, cases in GROUPS.items():
            for index, (name, layer, shape, mode, steps, scale, randomize_state) in enumerate(cases):
                write_case(f.create_group(f"{group_name}/{index:02d}_{name}"), layer, shape, mode, steps, scale, randomize_state)
                # Sigmoid/Tanh/Softplus have no state; ReLU input covers both signs.
        for group_name, cases in LATER.items():
            for index, (name, make, shape) in enumerate(cases, start=50):
                write_case(f.create_group(f"{group_name}/{index:02d}_{name}"), make(), shape, "eval", 1, 1.0, True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/NNTests/Fixtures/layers.h5")
