#!/usr/bin/env python3
"""torch.export programs (.pt2) for the container tests, and what PyTorch says they hold.

    .venv-torch/bin/python Tools/make_pt2_fixtures.py

Writes Tests/CheckpointTests/Fixtures/pt2/: graycnn.pt2 (convolutions, pooling, Linear) and
encdec.pt2 (Conv2d, BatchNorm2d with its buffers, ConvTranspose2d), each exported from a fresh
registry model with `torch.export.export` and saved with `torch.export.save`, and expected.json:
for each, the state_dict's keys, shapes and dtypes, the ATen operators the graph calls with their
counts, the sample input's shape, and the torch and schema versions the archive records. Also
two archives zoo must refuse, edited from encdec.pt2: schema_too_new.pt2 (schema major 99) and
pickled_weight.pt2 (a weight marked use_pickle), and truncated.pt2 (its first half); and
unsupported_operator.pt2, whose pixel unshuffle zoo does not run yet; pixel_shuffle.pt2
(a convolution, nn.PixelShuffle and GELU); and dense_concat.pt2 (DenseNet's torch.cat read by a
BatchNorm, ReLU and 1x1 convolution). Beside each runnable program, its input and
PyTorch's output (<name>.input.npy, <name>.expect.npy). two_heads.pt2 returns a dict, as
torchvision's segmentation models do: PyTorch's outputs are two_heads.expect.out.npy and
two_heads.expect.aux.npy.
"""
import collections
import json
import os
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from zoo_models import REGISTRY


class OwnForward(nn.Module):
    """What people write in their own forward methods: a stem, F.max_pool2d, a residual block, a
    branch joined by torch.cat, ReLU6 (hardtanh), x.mean((2, 3)) as a second head input, and
    x.view(x.size(0), -1)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.branch = nn.Conv2d(8, 4, 1)
        self.pool = nn.AdaptiveAvgPool2d((2, 2))
        self.head = nn.Linear(12 * 4 + 12, 5)

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 2)
        x = F.relu(x + self.block(x))
        x = torch.cat([x, F.hardtanh(self.branch(x), 0.0, 6.0)], dim=1)
        means = x.mean((2, 3))
        x = torch.sigmoid(self.pool(x)).view(x.size(0), -1)
        return self.head(torch.cat([x, means], dim=1))


class SmallUNet(nn.Module):
    """A U-Net with a skip connection and ConvTranspose2d, F.interpolate (nearest by a factor,
    bilinear to a size, bilinear with align_corners), PReLU, LeakyReLU, clamp, and softmax and
    log_softmax over the channels."""

    def __init__(self):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.PReLU(8))
        self.bottom = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.LeakyReLU(0.2))
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.out = nn.Conv2d(16, 4, 1)

    def forward(self, x):
        skip = self.down(x)
        y = self.up(self.bottom(F.max_pool2d(skip, 2)))
        y = self.out(torch.cat([y, skip], dim=1))
        near = F.interpolate(y, scale_factor=2, mode="nearest")
        sized = F.interpolate(y, size=(24, 20), mode="bilinear", align_corners=False)
        corners = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True)
        return torch.cat([torch.softmax(near, 1), F.log_softmax(corners, 1).clamp(-3.0, 0.0)], 1) + sized.mean()


class TwoHeads(nn.Module):
    """A dict output, as torchvision's segmentation models return ({"out": ..., "aux": ...}):
    each head named by its key in the program's output tree."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(8, 2, 1)
        self.aux = nn.Conv2d(8, 3, 1)

    def forward(self, x):
        features = self.body(x)
        return {"out": self.out(features), "aux": torch.sigmoid(self.aux(features)).mean((2, 3))}


class DenseConcat(nn.Module):
    """DenseNet's pattern: a BatchNorm, ReLU and 1x1 convolution reading a channel torch.cat that
    nothing else reads, once of parts of whole 16-channel blocks (which zoo reads where they lie)
    and once of a part of 8 channels then one of 24 (which zoo concatenates first)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.grow = nn.Conv2d(16, 16, 3, padding=1)
        self.norm1 = nn.BatchNorm2d(32)
        self.conv1 = nn.Conv2d(32, 24, 1)
        self.side = nn.Conv2d(24, 8, 3, padding=1)
        self.norm2 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 12, 1, bias=False)

    def forward(self, x):
        a = self.stem(x)
        y = self.conv1(F.relu(self.norm1(torch.cat([a, self.grow(F.relu(a))], 1))))
        return self.conv2(F.relu(self.norm2(torch.cat([self.side(y), y], 1))))


HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "Tests", "CheckpointTests", "Fixtures", "pt2")


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    torch.manual_seed(0)
    for name, model, shape in [("graycnn", REGISTRY["graycnn"](), (1, 1, 32, 32)),
                               ("encdec", REGISTRY["encdec"](in_channels=1, base=8), (2, 1, 16, 16)),
                               ("own_forward", OwnForward(), (2, 3, 32, 32)),
                               ("small_unet", SmallUNet(), (1, 3, 16, 16)),
                               ("pixel_shuffle", nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.PixelShuffle(2), nn.GELU()), (2, 3, 6, 5))]:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):  # learnt-looking statistics, not the fresh 0 and 1
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.data.uniform_(0.5, 1.5)
                module.bias.data.uniform_(-0.2, 0.2)
        model = model.eval()
        x = torch.rand(*shape) * 2 - 1
        with torch.no_grad():
            y = model(x)
        np.save(os.path.join(OUT, f"{name}.input.npy"), x.numpy())
        np.save(os.path.join(OUT, f"{name}.expect.npy"), y.numpy())
        program = torch.export.export(model, (x,))
        path = os.path.join(OUT, f"{name}.pt2")
        torch.export.save(program, path)
        operators = collections.Counter(str(node.target) for node in program.graph.nodes if node.op == "call_function")
        expected[name] = {
            "state_dict": {key: {"shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
                                 "first": value.flatten()[:4].double().tolist()}
                           for key, value in model.state_dict().items()},
            "operators": dict(sorted(operators.items())),
            "sample_input_shape": list(shape),
            "torch_version": torch.__version__,
        }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    # Seeded on its own, so that the programs above keep their random draws.
    torch.manual_seed(2)
    dense = DenseConcat()
    for norm in (dense.norm1, dense.norm2):
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.uniform_(-0.2, 0.2)
    dense = dense.eval()
    x = torch.rand(2, 3, 9, 7) * 2 - 1
    with torch.no_grad():
        np.save(os.path.join(OUT, "dense_concat.expect.npy"), dense(x).numpy())
    np.save(os.path.join(OUT, "dense_concat.input.npy"), x.numpy())
    torch.export.save(torch.export.export(dense, (x,)), os.path.join(OUT, "dense_concat.pt2"))
    torch.manual_seed(1)
    heads = TwoHeads().eval()
    x = torch.rand(2, 3, 10, 12) * 2 - 1
    with torch.no_grad():
        outputs = heads(x)
    np.save(os.path.join(OUT, "two_heads.input.npy"), x.numpy())
    for key, value in outputs.items():
        np.save(os.path.join(OUT, f"two_heads.expect.{key}.npy"), value.numpy())
    torch.export.save(torch.export.export(heads, (x,)), os.path.join(OUT, "two_heads.pt2"))
    # An operator zoo does not run yet: its archive still reads, its program is refused by name.
    shuffle = nn.Sequential(nn.Conv2d(1, 4, 3), nn.PixelUnshuffle(2)).eval()
    torch.export.save(torch.export.export(shuffle, (torch.rand(1, 1, 8, 8),)), os.path.join(OUT, "unsupported_operator.pt2"))
    edit("schema_too_new.pt2", "models/model.json", lambda d: {**d, "schema_version": {"major": 99, "minor": 0}})
    edit("pickled_weight.pt2", "data/weights/model_weights_config.json",
         lambda d: {"config": {k: {**v, "use_pickle": k == "encoder.0.weight"} for k, v in d["config"].items()}})
    with open(os.path.join(OUT, "encdec.pt2"), "rb") as f:
        whole = f.read()
    with open(os.path.join(OUT, "truncated.pt2"), "wb") as f:
        f.write(whole[:len(whole) // 2])


def edit(name, member, change):
    """encdec.pt2 with one JSON member changed, every other entry as it was."""
    with zipfile.ZipFile(os.path.join(OUT, "encdec.pt2")) as source, \
            zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("/" + member):
                data = json.dumps(change(json.loads(data))).encode()
            target.writestr(info.filename, data)


if __name__ == "__main__":
    main()
