#!/usr/bin/env python3
"""Regenerates Zoo/ (a reference checkpoint per registry entry but resnet18, made by PyTorch with
reference vectors computed by PyTorch) and the ModelZoo test fixtures: exports the way users make
them, with PyTorch's outputs as .npy pairs, self-describing Sequential stacks, and wrong files.

    .venv-torch/bin/python Tools/make_zoo.py
"""
import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
import zoo_h5  # noqa: E402
from zoo_models import INPUT_SHAPES, REGISTRY  # noqa: E402

ZOO = os.path.join(ROOT, "Zoo")
FIXTURES = os.path.join(ROOT, "Tests", "ModelZooTests", "Fixtures")


def train_batchnorm(model, shape, steps=3, seed=0):
    """A few forward passes in train mode so BatchNorm running statistics are not the defaults."""
    generator = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(torch.rand((4,) + shape, generator=generator) * 2 - 1)
    model.eval()


def input_shape(name, kwargs=None):
    shape = INPUT_SHAPES[name]
    if name == "encdec" and kwargs and "in_channels" in kwargs:
        shape = (kwargs["in_channels"],) + shape[1:]
    return shape


def example(name, batch=2, seed=1, kwargs=None):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((batch,) + input_shape(name, kwargs), generator=generator) * 2 - 1


def make(name, seed, **kwargs):
    torch.manual_seed(seed)
    model = REGISTRY[name](**kwargs)
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        train_batchnorm(model, input_shape(name, kwargs))
    model.eval()
    return model


def plain_export(model, path, layout="flat", dtype=None):
    """What users write with plain h5py, in several layouts."""
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: (v.astype(dtype) if v.dtype == np.float32 else v) for k, v in state.items()}
    with h5py.File(path, "w") as f:
        if layout == "flat":
            for k, v in state.items():
                f.create_dataset(k, data=v)
        elif layout == "nested":
            for k, v in state.items():
                *groups, leaf = k.split(".")
                g = f
                for part in groups:
                    g = g.require_group(part)
                g.create_dataset(leaf, data=v)
        elif layout == "wrapper":
            g = f.create_group("model_state_dict")
            for k, v in state.items():
                g.create_dataset(k, data=v)
            f.create_dataset("epoch", data=np.array(7))
        elif layout == "module":
            for k, v in state.items():
                f.create_dataset("module." + k, data=v)
        elif layout == "old_batchnorm":
            for k, v in state.items():
                if not k.endswith("num_batches_tracked"):
                    f.create_dataset(k, data=v)
    return state


def save_pair(base, model, x, weights_dtype=None):
    """The input and PyTorch's eval-mode output, as the user would pass to --input/--expect."""
    if weights_dtype is not None:
        model = model.to(weights_dtype).to(torch.float32)
    with torch.no_grad():
        y = model(x)
    np.save(base + ".input.npy", x.numpy())
    np.save(base + ".expect.npy", y.numpy())


def sequential_stacks():
    """Self-describing models: nn.Sequential stacks covering every layer type."""
    torch.manual_seed(3)
    stacks = {
        "seq_conv_pool": (nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 2, 1, ceil_mode=True),
            nn.Conv2d(8, 8, (3, 2), stride=(1, 2), padding="valid", dilation=(2, 1), groups=8, padding_mode="reflect"),
            nn.LeakyReLU(0.1), nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False), nn.AdaptiveAvgPool2d((2, 3)),
            nn.Flatten(), nn.Dropout(0.2), nn.Linear(48, 5), nn.Tanh()), (3, 17, 15)),
        "seq_decoder": (nn.Sequential(
            nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), nn.BatchNorm2d(6, momentum=None),
            nn.Softplus(beta=2, threshold=4), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(6, 3, 3, padding="same", padding_mode="circular"), nn.AdaptiveMaxPool2d(5),
            nn.Upsample(size=(7, 9), mode="nearest"), nn.Sigmoid()), (4, 5, 6)),
        "seq_mixed": (nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=2, dilation=2, padding_mode="replicate"), nn.BatchNorm2d(4, affine=False),
            nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True), nn.Identity(),
            nn.MaxPool2d((2, 3), stride=(2, 1), dilation=(1, 2)), nn.AvgPool2d(3, 1, 1, divisor_override=4),
            nn.Flatten(1, 2), nn.Linear(9, 3)), (2, 8, 9)),
    }
    for name, (model, shape) in stacks.items():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d) and m.track_running_stats:
                with torch.no_grad():
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 1.5)
                    if m.affine:
                        m.weight.uniform_(0.5, 1.5)
                        m.bias.uniform_(-0.5, 0.5)
                    m.num_batches_tracked.fill_(5)
        model.eval()
        yield name, model, shape


def main():
    os.makedirs(ZOO, exist_ok=True)
    os.makedirs(FIXTURES, exist_ok=True)

    # Zoo/: one canonical checkpoint per registry entry but resnet18 (too large to ship).
    for seed, name in enumerate(["simplecnn", "graycnn", "net", "cnnmodel", "edgedetect", "encdec"]):
        model = make(name, seed)
        arch_args = {"num_classes": 10} if name in ("simplecnn", "graycnn") else ({"in_channels": 3, "base": 32} if name == "encdec" else {})
        zoo_h5.save(model, os.path.join(ZOO, f"{name}.h5"), arch=name, arch_args=arch_args, example_input=example(name))

    # Exports the way users make them, with PyTorch's outputs.
    cases = {}

    def user_case(file, name, layout, dtype=None, kwargs=None, weights_dtype=None):
        model = make(name, 11, **(kwargs or {}))
        plain_export(model, os.path.join(FIXTURES, file), layout=layout, dtype=dtype)
        base = os.path.join(FIXTURES, file[:-3])
        save_pair(base, model, example(name, seed=5, kwargs=kwargs), weights_dtype=weights_dtype)
        cases[file] = {"arch": name, "args": kwargs or {}}

    user_case("simplecnn5_nested.h5", "simplecnn", "nested", kwargs={"num_classes": 5})
    user_case("graycnn_wrapper.h5", "graycnn", "wrapper", kwargs={"num_classes": 3})
    user_case("cnnmodel_module.h5", "cnnmodel", "module")
    user_case("encdec_trained_flat.h5", "encdec", "flat", kwargs={"in_channels": 1, "base": 8})
    user_case("encdec_old_batchnorm.h5", "encdec", "old_batchnorm", kwargs={"base": 4})
    user_case("simplecnn_float16.h5", "simplecnn", "flat", dtype=np.float16, weights_dtype=torch.float16)
    user_case("encdec_float64.h5", "encdec", "flat", dtype=np.float64, kwargs={"base": 8})
    user_case("edgedetect_flat.h5", "edgedetect", "flat")
    with open(os.path.join(FIXTURES, "user_exports.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)

    # Self-describing Sequential stacks written with model_config and __tests__.
    for name, model, shape in sequential_stacks():
        x = torch.randn((2,) + shape)
        zoo_h5.save(model, os.path.join(FIXTURES, f"{name}.h5"), example_input=x)
    # The same stack as a plain Python export of its own: model_config + __tests__ by hand, no checksums.
    model, shape = next((m, s) for n, m, s in sequential_stacks() if n == "seq_decoder")
    x = torch.randn((1,) + shape)
    with torch.no_grad():
        y = model(x)
    with h5py.File(os.path.join(FIXTURES, "seq_handwritten.h5"), "w") as f:
        for k, v in model.state_dict().items():
            f.create_dataset(k, data=v.numpy())
        f.create_dataset("__manifest__", data=json.dumps({"format_version": 1, "model_config": zoo_h5.model_config(model)}))
        f.create_dataset("__tests__/input_0", data=x.numpy())
        f.create_dataset("__tests__/output_0", data=y.numpy())

    # Wrong files: each must fail with the right exit code and name what is wrong. A small
    # encdec keeps them light.
    base_model = make("encdec", 21, base=4)
    good = os.path.join(FIXTURES, "bad_base.h5")
    zoo_h5.save(base_model, good, arch="encdec", arch_args={"in_channels": 3, "base": 4}, example_input=example("encdec"))

    def mutate(file, change):
        path = os.path.join(FIXTURES, file)
        with open(good, "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        with h5py.File(path, "r+") as f:
            change(f)

    mutate("bad_missing_key.h5", lambda f: f.__delitem__("decoder.3.bias"))
    mutate("bad_extra_key.h5", lambda f: f.create_dataset("decoder.5.weight", data=np.zeros((2, 2), np.float32)))

    def wrong_shape(f):
        del f["encoder.1.running_mean"]
        f.create_dataset("encoder.1.running_mean", data=np.zeros(5, np.float32))
    mutate("bad_wrong_shape.h5", wrong_shape)

    def changed(f):
        f["encoder.0.weight"][0, 0, 0, 0] = f["encoder.0.weight"][0, 0, 0, 0] + 0.5
    mutate("bad_changed_weight.h5", changed)

    def nan(f):
        f["decoder.0.weight"][1, 2, 0, 3] = np.nan
    mutate("bad_nan.h5", nan)

    plain = os.path.join(FIXTURES, "bad_inf_plain.h5")
    plain_export(base_model, plain)
    with h5py.File(plain, "r+") as f:
        f["encoder.1.weight"][1] = np.inf

    with open(good, "rb") as f:
        whole = f.read()
    with open(os.path.join(FIXTURES, "bad_truncated.h5"), "wb") as f:
        f.write(whole[: len(whole) // 3])
    open(os.path.join(FIXTURES, "bad_empty.h5"), "wb").close()
    torch.save(base_model.state_dict(), os.path.join(FIXTURES, "encdec_torch_save.pt"))
    with open(os.path.join(FIXTURES, "bad_lfs_pointer.h5"), "w") as f:
        f.write("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 2207896\n")
    with open(os.path.join(FIXTURES, "bad_random.h5"), "wb") as f:
        f.write(np.random.default_rng(9).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    os.remove(good)

    # torchvision's resnet18 key names and shapes (the weights are too large to commit).
    resnet = REGISTRY["resnet18"]()
    with open(os.path.join(FIXTURES, "resnet18_torchvision_keys.json"), "w") as f:
        json.dump([[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in resnet.state_dict().items()], f)

def parameterless_fixture():
    """A model with no parameters at all (pooling, upsampling, activations), saved with its
    model_config and reference vectors: an empty state_dict that describes its model."""
    torch.manual_seed(21)
    model = nn.Sequential(
        nn.MaxPool2d(2), nn.ReLU(), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.AvgPool2d(3, stride=1, padding=1), nn.Sigmoid()).eval()
    assert not model.state_dict()
    zoo_h5.save(model, os.path.join(FIXTURES, "seq_parameterless.h5"), example_input=torch.randn(2, 3, 8, 10))


if __name__ == "__main__":
    # `make_zoo.py parameterless` writes only that fixture; no argument regenerates everything.
    if sys.argv[1:] == ["parameterless"]:
        parameterless_fixture()
    else:
        main()
        parameterless_fixture()
