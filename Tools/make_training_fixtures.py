#!/usr/bin/env python3
"""Writes what autograd computes for zoo's layers and registry models, for the Swift gradient
tests (Tests/NNTests/GradientTests.swift, Tests/ModelZooTests/ModelGradientTests.swift), and
PyTorch's runs of `zoo train --scheduler` for Tests/ZooCommandTests/TrainSchedulerTests.swift.
Needs torch, torchvision, h5py, numpy and the zoo_h5 package (Tools/python).

    .venv-torch/bin/python Tools/make_training_fixtures.py Tests/NNTests/Fixtures/training Tests/ZooCommandTests/Fixtures/schedules

layers.h5: a group `<Type>/<NN_name>` per case, with attributes `config` (a model_config layer,
JSON) and `mode` ("train" or "eval"); datasets `input`, `output`, `grad_output` (the gradient
handed to the backward), `grad_input`, `state/<key>` before, `grads/<key>` (each parameter's
.grad) and, in train mode, `state_after/<key>`.

losses.h5: a group per loss case: attribute `config` (JSON: `loss`, the constructor's keywords),
datasets `input`, `target`, `loss` (the reduced value, or every element's with reduction "none")
and `grad_input` (of the sum of `loss`).

optimizers.h5: a group per optimizer case: attribute `config` (JSON: `optimizer`, its keywords,
an optional `scheduler` with `type` and keywords), a Linear(4, 3)'s `state`, and per step K
`grads_K/<key>` (set as .grad), `params_K/<key>` and `lr_K` after `optimizer.step()` and
`scheduler.step()`; `optimizer_state/<index>/<name>` is `optimizer.state_dict()["state"]` at the end.

schedules/: `start.h5` (an MLP saved by zoo_h5.save, model_config), `inputs.npy` (10, 4) and
`targets.npy` (10 class indices), and `expected.json`: per case the `zoo train` flags, the epochs,
`lrs` (the optimizer's lr after each epoch's `scheduler.step()`), `scheduler_state` (its
`state_dict()` at the end) and `state` (the final weights, {key: {shape, values}}), from PyTorch's
usual loop over the same batches (file order, batch 4, the last short batch kept).

models.h5: a group per registry model (attributes `arch`, `arch_args` JSON, `mode`), the same
datasets, except that the weights are not stored: every state tensor K is
`offset + scale * (((i * 2654435761 + seed) mod 2^24) / 2^24 - 0.5)` in float32 for its
flat index i, with `seed`, `offset`, `scale` in the attributes of `weights/<K>` (an empty
dataset of K's shape and dtype), which Swift computes exactly. The model then runs in float64 on
those values (and on the float32 input and output gradient, cast exactly), and what autograd
gives is stored rounded to float32: float32's own rounding over a whole resnet18 reaches the
tolerance, so a float32 reference would test which kernels zoo shares with PyTorch rather than
its gradients. The input keeps every ReLU's input clear of 0 (`away_from_kinks`). A gradient of more than 4096
elements is stored as every `stride`-th element (attribute `stride`), to keep the file small.
"""
import json
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_h5 import model_config  # noqa: E402
import zoo_models  # noqa: E402

torch.manual_seed(0)
CASES = {}


def case(group, name, layer, shape, mode="train", scale=1.0):
    CASES.setdefault(group, []).append((name, layer, shape, mode, scale))


# Conv2d: every argument.
case("Conv2d", "basic", nn.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 5))
case("Conv2d", "stride_padding_nonsquare", nn.Conv2d(3, 5, (2, 3), stride=(2, 1), padding=(1, 0)), (2, 3, 7, 9))
case("Conv2d", "stride_larger_than_kernel", nn.Conv2d(2, 3, 2, stride=3, bias=False), (1, 2, 8, 7))
case("Conv2d", "dilation", nn.Conv2d(2, 3, (3, 2), padding=(1, 3), dilation=(1, 3), stride=(1, 2)), (2, 2, 6, 9))
case("Conv2d", "groups", nn.Conv2d(4, 6, 3, groups=2, padding=1), (2, 4, 5, 6))
case("Conv2d", "depthwise", nn.Conv2d(4, 8, 3, groups=4, bias=False), (1, 4, 5, 5))
case("Conv2d", "same_even_kernel", nn.Conv2d(2, 3, 4, padding="same"), (1, 2, 7, 6))
for padding_mode in ["reflect", "replicate", "circular"]:
    case("Conv2d", f"padding_mode_{padding_mode}", nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=padding_mode), (2, 2, 5, 6))

# ConvTranspose2d: every argument, output_padding beyond the padding included.
case("ConvTranspose2d", "basic", nn.ConvTranspose2d(3, 4, 3), (2, 3, 4, 5))
case("ConvTranspose2d", "encdec", nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, bias=False), (2, 4, 3, 4))
case("ConvTranspose2d", "output_padding", nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1), (1, 2, 4, 3))
case("ConvTranspose2d", "output_padding_beyond_padding", nn.ConvTranspose2d(2, 3, 3, stride=3, output_padding=2), (2, 2, 3, 3))
case("ConvTranspose2d", "groups_dilation", nn.ConvTranspose2d(4, 6, (3, 2), stride=(1, 2), groups=2, dilation=(2, 1)), (2, 4, 4, 3))
case("ConvTranspose2d", "nonsquare", nn.ConvTranspose2d(2, 2, (2, 3), stride=(2, 1), padding=(0, 1), bias=False), (1, 2, 3, 5))

# BatchNorm2d in train mode (batch statistics, running statistics) and eval mode.
case("BatchNorm2d", "train", nn.BatchNorm2d(3), (4, 3, 3, 2))
case("BatchNorm2d", "train_cumulative", nn.BatchNorm2d(3, momentum=None), (2, 3, 4, 4))
case("BatchNorm2d", "train_momentum", nn.BatchNorm2d(2, momentum=0.3, eps=1e-3), (3, 2, 2, 3))
case("BatchNorm2d", "train_not_affine", nn.BatchNorm2d(3, affine=False), (2, 3, 3, 3))
case("BatchNorm2d", "no_running_stats", nn.BatchNorm2d(3, track_running_stats=False), (2, 3, 3, 3), mode="eval")
case("BatchNorm2d", "eval", nn.BatchNorm2d(3), (2, 3, 3, 3), mode="eval")

# Pooling.
case("MaxPool2d", "k2s2", nn.MaxPool2d(2), (2, 3, 6, 5))
case("MaxPool2d", "k3s2p1", nn.MaxPool2d(3, stride=2, padding=1), (1, 2, 7, 7))
case("MaxPool2d", "ceil_mode", nn.MaxPool2d(3, stride=2, ceil_mode=True), (1, 2, 8, 6))
case("MaxPool2d", "dilation", nn.MaxPool2d(2, stride=1, dilation=2), (1, 2, 6, 5))
case("MaxPool2d", "ties", nn.MaxPool2d(2, stride=1), (1, 1, 4, 4), scale=0.0)
case("AvgPool2d", "k2", nn.AvgPool2d(2), (2, 3, 6, 5))
case("AvgPool2d", "padding_count_include_pad", nn.AvgPool2d(3, stride=2, padding=1), (1, 2, 7, 6))
case("AvgPool2d", "padding_exclude_pad", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (1, 2, 7, 6))
case("AvgPool2d", "ceil_mode", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 8, 6))
case("AvgPool2d", "ceil_mode_exclude_pad", nn.AvgPool2d(2, stride=2, ceil_mode=True, count_include_pad=False), (1, 2, 5, 5))
case("AvgPool2d", "divisor_override", nn.AvgPool2d(2, stride=1, divisor_override=3), (1, 2, 4, 4))
case("AdaptivePool2d", "avg_1", nn.AdaptiveAvgPool2d(1), (2, 3, 5, 4))
case("AdaptivePool2d", "avg_overlapping", nn.AdaptiveAvgPool2d((3, 2)), (1, 2, 7, 5))
case("AdaptivePool2d", "max_1", nn.AdaptiveMaxPool2d(1), (2, 3, 5, 4))
case("AdaptivePool2d", "max_overlapping", nn.AdaptiveMaxPool2d((4, 3)), (1, 2, 7, 5))

# Linear on 2-d and N-d input.
case("Linear", "rows", nn.Linear(5, 3), (4, 5))
case("Linear", "four_d", nn.Linear(4, 6), (2, 3, 2, 4))
case("Linear", "no_bias", nn.Linear(3, 2, bias=False), (5, 3))

# Activations and shape layers.
case("Elementwise", "relu", nn.ReLU(), (2, 3, 4, 4))
case("Elementwise", "leaky_relu", nn.LeakyReLU(0.2), (2, 3, 4, 4))
case("Elementwise", "sigmoid", nn.Sigmoid(), (2, 3, 4, 4), scale=3.0)
case("Elementwise", "tanh", nn.Tanh(), (2, 3, 4, 4), scale=2.0)
case("Elementwise", "softplus", nn.Softplus(), (2, 3, 4, 4), scale=3.0)
case("Elementwise", "softplus_beta_threshold", nn.Softplus(beta=2, threshold=3), (2, 3, 4, 4), scale=3.0)
case("Elementwise", "flatten", nn.Flatten(), (2, 3, 2, 2))
case("Elementwise", "flatten_middle", nn.Flatten(1, 2), (2, 3, 2, 2))
case("Elementwise", "identity", nn.Identity(), (2, 3))
case("Elementwise", "dropout_eval", nn.Dropout(0.5), (2, 3, 4), mode="eval")

# Upsample.
case("Upsample", "nearest_scale2", nn.Upsample(scale_factor=2), (1, 2, 3, 4))
case("Upsample", "nearest_size", nn.Upsample(size=(5, 7)), (2, 1, 3, 4))
for align in [False, True]:
    case("Upsample", f"bilinear_scale2_align{align}", nn.Upsample(scale_factor=2, mode="bilinear", align_corners=align), (1, 2, 3, 4))
    case("Upsample", f"bilinear_size_align{align}", nn.Upsample(size=(5, 7), mode="bilinear", align_corners=align), (2, 1, 3, 4))
    case("Upsample", f"bilinear_down_align{align}", nn.Upsample(scale_factor=0.5, mode="bilinear", align_corners=align), (1, 1, 6, 5))


def randomize(layer):
    with torch.no_grad():
        for name, tensor in layer.state_dict().items():
            if name.endswith("num_batches_tracked"):
                tensor.fill_(3)
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand_like(tensor) + 0.5)
            else:
                tensor.copy_(torch.randn_like(tensor))


def write_state(group, name, state):
    target = group.create_group(name)
    for key, value in state.items():
        target.create_dataset(key, data=value.detach().numpy())


def backward(group, module, x, in_float64=False):
    """Runs `module` on `x` and back from a random output gradient; writes input, output, both
    gradients, and returns the group for the parameters' gradients. `in_float64`: the module
    has been cast to float64 and runs on x's float32 values cast exactly, so that what is stored
    (rounded back to float32) is autograd's answer without float32's own rounding, which over a
    whole resnet18 reaches the tolerance by itself."""
    x = x.detach().double() if in_float64 else x
    x.requires_grad_(True)
    y = module(x)
    g = torch.randn(y.shape) if in_float64 else torch.randn_like(y)
    y.backward(g.to(y.dtype))
    group.create_dataset("input", data=x.detach().float().numpy())
    group.create_dataset("output", data=y.detach().float().numpy())
    group.create_dataset("grad_output", data=g.numpy())
    group.create_dataset("grad_input", data=x.grad.float().numpy())
    return group.create_group("grads")


def run_case(group, layer, shape, mode, scale):
    randomize(layer)
    config = model_config(nn.Sequential(layer))["layers"][0]
    config.pop("name", None)
    group.attrs["config"] = json.dumps(config)
    group.attrs["mode"] = mode
    write_state(group, "state", layer.state_dict())
    layer.train(mode == "train")
    grads = backward(group, layer, (torch.randn(*shape) * scale))
    for key, parameter in layer.named_parameters():
        grads.create_dataset(key, data=parameter.grad.numpy())
    if mode == "train":
        write_state(group, "state_after", layer.state_dict())


def lcg(shape, seed, offset, scale):
    """The float32 values models.h5 describes for a tensor, as Swift computes them."""
    count = int(np.prod(shape, dtype=np.int64))
    k = (np.arange(count, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(seed)) % np.uint64(1 << 24)
    u = k.astype(np.float32) / np.float32(1 << 24) - np.float32(0.5)
    return (np.float32(offset) + np.float32(scale) * u).astype(np.float32).reshape(shape)


MODELS = [
    ("simplecnn", {"num_classes": 10}, (2, 3, 32, 32)),
    ("net", {}, (2, 3, 32, 32)),
    ("cnnmodel", {}, (2, 1, 4, 32)),
    ("edgedetect", {}, (1, 1, 12, 12)),
    ("encdec", {"in_channels": 3, "base": 4}, (2, 3, 8, 8)),
    ("graycnn", {"num_classes": 10}, (2, 1, 32, 32)),
    ("resnet18", {"num_classes": 10}, (2, 3, 64, 64)),
]


def write_sampled(group, key, array):
    flat = array.reshape(-1)
    stride = max(1, math.ceil(flat.size / 4096)) if flat.size > 4096 else 1
    dataset = group.create_dataset(key, data=flat[::stride] if stride > 1 else array)
    dataset.attrs["stride"] = stride


def away_from_kinks(model, x, seed, margin=2e-6, attempts=400):
    """`x`, or the first of a seeded series of inputs like it, for which no ReLU's input lies
    within `margin` x max(1, max |input|) of 0 (exact zeros apart): at a kink the gradient jumps, so a rounding
    difference as small as float32's (another kernel's summation order) would move one value's
    whole gradient across it. resnet18's first input had one value of layer2.1's last ReLU that
    close, and an im2col or a blocked-layout convolution anywhere before it flipped it."""
    import copy
    probe = copy.deepcopy(model)  # train mode: its running statistics must not move
    closest = []
    def nearest(_, inputs):
        # Exact zeros (a ReLU of a ReLU's output) stay zero under any rounding: not a kink here.
        values = inputs[0].detach().abs()
        values = values[values > 0]
        if values.numel():
            closest.append(float(values.min() / max(1.0, float(values.max()))))
    hooks = [m.register_forward_pre_hook(nearest) for m in probe.modules() if isinstance(m, nn.ReLU)]
    generator = torch.Generator().manual_seed(seed)
    candidate = x
    for _ in range(attempts):
        closest.clear()
        with torch.no_grad():
            probe(candidate)
        if not closest or min(closest) >= margin:
            for hook in hooks:
                hook.remove()
            return candidate
        candidate = torch.randn(*x.shape, generator=generator)
    raise SystemExit(f"no input of shape {tuple(x.shape)} keeps every ReLU input {margin} from 0")


def run_model(group, arch, args, shape):
    model = zoo_models.REGISTRY[arch](**args)
    group.attrs["arch"] = arch
    group.attrs["arch_args"] = json.dumps(args)
    group.attrs["mode"] = "train"
    weights = group.create_group("weights")
    state = model.state_dict()
    with torch.no_grad():
        for index, (key, tensor) in enumerate(state.items()):
            seed = index * 7919 + 1
            if key.endswith("num_batches_tracked"):
                tensor.fill_(2)
                offset, scale = 2.0, 0.0
            elif key.endswith("running_var"):
                offset, scale = 1.0, 0.5
            elif key.endswith("running_mean") or key.endswith(".bias") and tensor.dim() == 1 and "bn" in key:
                offset, scale = 0.0, 0.2
            elif tensor.dim() == 1 and ("bn" in key or "downsample.1" in key or key.startswith("encoder.1")
                                        or key.startswith("encoder.4") or key.startswith("decoder.1")):
                offset, scale = (1.0, 0.2) if key.endswith("weight") else (0.0, 0.2)
            else:
                fan_in = tensor[0].numel() if tensor.dim() > 1 else state[key.replace("bias", "weight")][0].numel()
                if arch == "encdec" and key.startswith("decoder.3") and tensor.dim() == 1:
                    fan_in = state["decoder.3.weight"][0].numel()
                offset, scale = 0.0, float(np.float32(2 / math.sqrt(fan_in)))
            values = lcg(tuple(tensor.shape), seed, offset, scale)
            tensor.copy_(torch.from_numpy(values).to(tensor.dtype))
            dataset = weights.create_dataset(key, shape=tuple(tensor.shape), dtype=tensor.numpy().dtype)
            dataset.attrs["seed"] = seed
            dataset.attrs["offset"] = offset
            dataset.attrs["scale"] = scale
    model.train()
    x = away_from_kinks(model, torch.randn(*shape), seed=sum(map(ord, arch)))
    grads = backward(group, model.double(), x, in_float64=True)
    for key, parameter in model.named_parameters():
        write_sampled(grads, key, parameter.grad.float().numpy())
    after = group.create_group("state_after")
    for key, value in model.state_dict().items():
        if not key.endswith("weight") and not key.endswith("bias"):
            after.create_dataset(key, data=value.float().numpy() if value.is_floating_point() else value.numpy())


LOSSES = []


def loss_case(name, loss, config, input_shape, target):
    LOSSES.append((name, loss, config, input_shape, target))


def classes(shape, count, ignore=None):
    target = torch.randint(0, count, shape)
    if ignore is not None:
        target.view(-1)[::3] = ignore
    return target


W4 = [0.5, 2.0, 1.0, 0.25]
loss_case("ce_mean", nn.CrossEntropyLoss(), {"loss": "CrossEntropyLoss"}, (5, 4), classes((5,), 4))
loss_case("ce_sum", nn.CrossEntropyLoss(reduction="sum"), {"loss": "CrossEntropyLoss", "reduction": "sum"}, (5, 4), classes((5,), 4))
loss_case("ce_none", nn.CrossEntropyLoss(reduction="none"), {"loss": "CrossEntropyLoss", "reduction": "none"}, (5, 4), classes((5,), 4))
loss_case("ce_weight", nn.CrossEntropyLoss(weight=torch.tensor(W4)), {"loss": "CrossEntropyLoss", "weight": W4}, (6, 4),
          classes((6,), 4))
loss_case("ce_ignore_index", nn.CrossEntropyLoss(ignore_index=2), {"loss": "CrossEntropyLoss", "ignore_index": 2}, (6, 4),
          classes((6,), 4, ignore=2))
loss_case("ce_ignore_default", nn.CrossEntropyLoss(weight=torch.tensor(W4)), {"loss": "CrossEntropyLoss", "weight": W4}, (6, 4),
          classes((6,), 4, ignore=-100))
loss_case("ce_smoothing", nn.CrossEntropyLoss(label_smoothing=0.1), {"loss": "CrossEntropyLoss", "label_smoothing": 0.1}, (5, 4),
          classes((5,), 4))
loss_case("ce_smoothing_ignore", nn.CrossEntropyLoss(label_smoothing=0.2, ignore_index=1),
          {"loss": "CrossEntropyLoss", "label_smoothing": 0.2, "ignore_index": 1}, (6, 4), classes((6,), 4, ignore=1))
loss_case("ce_smoothing_weight_ignore", nn.CrossEntropyLoss(weight=torch.tensor(W4), label_smoothing=0.3, ignore_index=0),
          {"loss": "CrossEntropyLoss", "weight": W4, "label_smoothing": 0.3, "ignore_index": 0}, (6, 4), classes((6,), 4, ignore=0))
loss_case("ce_smoothing_sum", nn.CrossEntropyLoss(label_smoothing=0.1, reduction="sum"),
          {"loss": "CrossEntropyLoss", "label_smoothing": 0.1, "reduction": "sum"}, (5, 4), classes((5,), 4))
loss_case("ce_smoothing_none", nn.CrossEntropyLoss(weight=torch.tensor(W4), label_smoothing=0.1, reduction="none"),
          {"loss": "CrossEntropyLoss", "weight": W4, "label_smoothing": 0.1, "reduction": "none"}, (5, 4), classes((5,), 4))
loss_case("ce_spatial", nn.CrossEntropyLoss(weight=torch.tensor(W4[:3])), {"loss": "CrossEntropyLoss", "weight": W4[:3]},
          (2, 3, 2, 3), classes((2, 2, 3), 3))
loss_case("ce_probabilities", nn.CrossEntropyLoss(), {"loss": "CrossEntropyLoss"}, (5, 4), torch.softmax(torch.randn(5, 4), 1))
loss_case("ce_probabilities_weight_smoothing", nn.CrossEntropyLoss(weight=torch.tensor(W4), label_smoothing=0.2),
          {"loss": "CrossEntropyLoss", "weight": W4, "label_smoothing": 0.2}, (5, 4), torch.softmax(torch.randn(5, 4), 1))
loss_case("nll_mean", nn.NLLLoss(), {"loss": "NLLLoss"}, (5, 4), classes((5,), 4))
loss_case("nll_weight_ignore", nn.NLLLoss(weight=torch.tensor(W4), ignore_index=3),
          {"loss": "NLLLoss", "weight": W4, "ignore_index": 3}, (6, 4), classes((6,), 4, ignore=3))
loss_case("nll_sum", nn.NLLLoss(reduction="sum"), {"loss": "NLLLoss", "reduction": "sum"}, (5, 4), classes((5,), 4))
loss_case("nll_none", nn.NLLLoss(reduction="none"), {"loss": "NLLLoss", "reduction": "none"}, (5, 4), classes((5,), 4))
for reduction in ["mean", "sum", "none"]:
    loss_case(f"mse_{reduction}", nn.MSELoss(reduction=reduction), {"loss": "MSELoss", "reduction": reduction}, (3, 4),
              torch.randn(3, 4))
    ties = torch.randn(3, 4)
    loss_case(f"l1_{reduction}", nn.L1Loss(reduction=reduction), {"loss": "L1Loss", "reduction": reduction}, (3, 4), ties)
    loss_case(f"bce_{reduction}", nn.BCEWithLogitsLoss(reduction=reduction), {"loss": "BCEWithLogitsLoss", "reduction": reduction},
              (3, 4), torch.rand(3, 4))
loss_case("bce_weight_pos_weight", nn.BCEWithLogitsLoss(weight=torch.tensor(W4), pos_weight=torch.tensor([3.0, 0.5, 1.0, 2.0])),
          {"loss": "BCEWithLogitsLoss", "weight": W4, "pos_weight": [3.0, 0.5, 1.0, 2.0]}, (3, 4), (torch.rand(3, 4) > 0.5).float())


def write_loss(group, loss, config, input_shape, target):
    x = (torch.randn(*input_shape) * 2).requires_grad_(True)
    if config["loss"] == "NLLLoss":
        x = torch.log_softmax(torch.randn(*input_shape) * 2, 1).detach().requires_grad_(True)
    if config["loss"] == "L1Loss":
        with torch.no_grad():
            x.view(-1)[::4] = target.view(-1)[::4]  # equal elements: sign 0
    value = loss(x, target)
    value.sum().backward()
    group.attrs["config"] = json.dumps(config)
    group.create_dataset("input", data=x.detach().numpy())
    group.create_dataset("target", data=target.numpy())
    group.create_dataset("loss", data=value.detach().numpy())
    group.create_dataset("grad_input", data=x.grad.numpy())


OPTIMIZERS = [
    ("sgd", {"optimizer": "SGD", "lr": 0.1}),
    ("sgd_momentum", {"optimizer": "SGD", "lr": 0.05, "momentum": 0.9}),
    ("sgd_dampening_weight_decay", {"optimizer": "SGD", "lr": 0.05, "momentum": 0.8, "dampening": 0.5, "weight_decay": 0.01}),
    ("sgd_nesterov", {"optimizer": "SGD", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("sgd_maximize", {"optimizer": "SGD", "lr": 0.1, "momentum": 0.5, "maximize": True}),
    ("sgd_steplr", {"optimizer": "SGD", "lr": 0.1, "momentum": 0.9, "scheduler": {"type": "StepLR", "step_size": 2, "gamma": 0.5}}),
    ("adam", {"optimizer": "Adam", "lr": 0.001}),
    ("adam_hyper", {"optimizer": "Adam", "lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1}),
    ("adam_amsgrad", {"optimizer": "Adam", "lr": 0.01, "amsgrad": True}),
    ("adam_cosine", {"optimizer": "Adam", "lr": 0.01, "scheduler": {"type": "CosineAnnealingLR", "T_max": 3, "eta_min": 1e-4}}),
    ("adamw", {"optimizer": "AdamW", "lr": 0.001}),
    ("adamw_amsgrad", {"optimizer": "AdamW", "lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "betas": [0.85, 0.95]}),
]


def make_optimizer(config, parameters):
    arguments = {k: (tuple(v) if k == "betas" else v) for k, v in config.items() if k not in ("optimizer", "scheduler")}
    optimizer = getattr(torch.optim, config["optimizer"])(parameters, **arguments)
    schedule = config.get("scheduler")
    scheduler = None
    if schedule:
        scheduler = getattr(torch.optim.lr_scheduler, schedule["type"])(
            optimizer, **{k: v for k, v in schedule.items() if k != "type"})
    return optimizer, scheduler


def write_optimizer(group, config, steps=8):
    """A Linear(4, 3)'s weight and bias stepped `steps` times on stored gradients, the scheduler
    (if any) stepped after each; `params_K/<key>` and `lr_K` after step K."""
    layer = nn.Linear(4, 3)
    optimizer, scheduler = make_optimizer(config, layer.parameters())
    group.attrs["config"] = json.dumps(config)
    write_state(group, "state", layer.state_dict())
    for step in range(steps):
        grads = group.create_group(f"grads_{step}")
        for key, parameter in layer.named_parameters():
            parameter.grad = torch.randn_like(parameter) * (1 + step % 3)
            grads.create_dataset(key, data=parameter.grad.numpy())
        optimizer.step()
        if scheduler:
            scheduler.step()
        write_state(group, f"params_{step}", layer.state_dict())
        group.create_dataset(f"lr_{step}", data=np.float64(optimizer.param_groups[0]["lr"]))
    final = group.create_group("optimizer_state")
    for index, values in optimizer.state_dict()["state"].items():
        for name, value in values.items():
            final.create_dataset(f"{index}/{name}", data=value.numpy())


SCHEDULED_RUNS = [
    ("sgd_step", 6, ["--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9", "--scheduler", "step", "--step-size", "2",
                     "--gamma", "0.5"]),
    ("adamw_step_default_gamma", 7, ["--optimizer", "adamw", "--lr", "0.05", "--scheduler", "step", "--step-size", "3"]),
    ("adam_cosine_default_t_max", 5, ["--optimizer", "adam", "--lr", "0.05", "--scheduler", "cosine"]),
    ("sgd_cosine_restart", 8, ["--optimizer", "sgd", "--lr", "0.2", "--scheduler", "cosine", "--t-max", "3", "--eta-min",
                               "0.001"]),
]


def flag(flags, name, default=None):
    return flags[flags.index(name) + 1] if name in flags else default


def scheduled_run(model, flags, epochs, x, y):
    """PyTorch's usual loop for `zoo train --no-shuffle --batch-size 4 --epochs E <flags>`."""
    lr = float(flag(flags, "--lr"))
    kind = flag(flags, "--optimizer")
    if kind == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=float(flag(flags, "--momentum", 0)))
    else:
        optimizer = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind](model.parameters(), lr=lr)
    if flag(flags, "--scheduler") == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(flag(flags, "--step-size")),
                                                    gamma=float(flag(flags, "--gamma", 0.1)))
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=int(flag(flags, "--t-max", epochs)),
                                                               eta_min=float(flag(flags, "--eta-min", 0)))
    lrs = []
    for _ in range(epochs):
        model.train()
        for first in range(0, len(x), 4):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[first:first + 4]), y[first:first + 4]).backward()
            optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs, scheduler.state_dict()


def write_schedules(folder):
    from zoo_h5 import save

    torch.manual_seed(18)
    os.makedirs(folder, exist_ok=True)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    save(model, os.path.join(folder, "start.h5"))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(10, 4)
    y = torch.randint(0, 3, (10,))
    np.save(os.path.join(folder, "inputs.npy"), x.numpy())
    np.save(os.path.join(folder, "targets.npy"), y.numpy())
    cases = []
    for name, epochs, flags in SCHEDULED_RUNS:
        model.load_state_dict(start)
        lrs, scheduler_state = scheduled_run(model, flags, epochs, x, y)
        state = {k: {"shape": list(v.shape), "values": [float(f) for f in v.reshape(-1).tolist()]}
                 for k, v in model.state_dict().items()}
        cases.append({"name": name, "epochs": epochs, "flags": flags, "lrs": lrs,
                      "scheduler_state": {k: v for k, v in scheduler_state.items() if isinstance(v, (int, float, list, bool))},
                      "state": state})
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump({"torch_version": str(torch.__version__), "cases": cases}, f, indent=1)
        f.write("\n")


def main(folder, schedules_folder):
    os.makedirs(folder, exist_ok=True)
    with h5py.File(os.path.join(folder, "layers.h5"), "w") as f:
        f.attrs["torch_version"] = str(torch.__version__)
        for group_name, cases in CASES.items():
            for index, (name, layer, shape, mode, scale) in enumerate(cases):
                run_case(f.create_group(f"{group_name}/{index:02d}_{name}"), layer, shape, mode, scale)
    with h5py.File(os.path.join(folder, "models.h5"), "w") as f:
        f.attrs["torch_version"] = str(torch.__version__)
        for arch, args, shape in MODELS:
            run_model(f.create_group(arch), arch, args, shape)
    with h5py.File(os.path.join(folder, "losses.h5"), "w") as f:
        f.attrs["torch_version"] = str(torch.__version__)
        for index, (name, loss, config, input_shape, target) in enumerate(LOSSES):
            write_loss(f.create_group(f"{index:02d}_{name}"), loss, config, input_shape, target)
    with h5py.File(os.path.join(folder, "optimizers.h5"), "w") as f:
        f.attrs["torch_version"] = str(torch.__version__)
        for index, (name, config) in enumerate(OPTIMIZERS):
            write_optimizer(f.create_group(f"{index:02d}_{name}"), config)
    write_schedules(schedules_folder)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/NNTests/Fixtures/training",
         sys.argv[2] if len(sys.argv) > 2 else "Tests/ZooCommandTests/Fixtures/schedules")
