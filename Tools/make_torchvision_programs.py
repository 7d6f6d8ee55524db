#!/usr/bin/env python3
"""The torchvision families zoo recognises in a bare state_dict, and the fixtures that prove them.

    .venv-torch/bin/python Tools/make_torchvision_programs.py [FAMILY ...]

For each family (torchvision's constructor with weights=None, eval mode):

- The program zoo ships: `torch.export.export` with a dynamic batch (1 to 1024) and picture size,
  node metadata (stack traces, file paths, module stacks) dropped; graph only, no weights. Beside
  it, what torchvision's DEFAULT weights say of the model: the preprocess their transforms() run
  (Resize, CenterCrop, ToTensor, Normalize in the manifest's JSON form) and the category names.
  All go into Sources/ModelZoo/Resources/torchvision-programs.zip: `<family>.json` (the program),
  `families.json` (per family: preprocess, categories list name, the state_dict's key count) and
  `categories.json` (ImageNet's 1000 names, VOC's 21), straight from the torchvision package.
- The fixtures: Tests/ModelZooTests/Fixtures/torchvision/. Fresh weights from a formula both
  sides compute exactly (`deterministic` below, so that no weights are committed), a batch of 2
  at a picture size other than the exported one, and PyTorch's eager output for it
  (`<family>.expect.npy`); and the same program after `run_decompositions()` (core ATen forms),
  in `decomposed.zip`, which must give the same numbers.
"""
import json
import math
import os
import sys
import zipfile

import numpy as np
import torch
import torchvision
from torchvision.models import get_model_weights

import zoo_h5  # installed by Tools/setup.sh: pip install ./Tools/python

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESOURCE = os.path.join(ROOT, "Sources", "ModelZoo", "Resources", "torchvision-programs.zip")
FIXTURES = os.path.join(ROOT, "Tests", "ModelZooTests", "Fixtures", "torchvision")

# family: (constructor keywords, the test's picture size)
FAMILIES = {
    "alexnet": ({}, 96),
    "vgg11_bn": ({}, 64),
    "resnet50": ({}, 64),
    "resnext50_32x4d": ({}, 64),
    "wide_resnet50_2": ({}, 64),
    "squeezenet1_1": ({}, 64),
    "densenet121": ({}, 64),
    "googlenet": ({"aux_logits": False, "init_weights": False}, 64),
    "inception_v3": ({"aux_logits": False, "init_weights": False}, 112),
    "mobilenet_v2": ({}, 64),
    "mobilenet_v3_small": ({}, 64),
    "mobilenet_v3_large": ({}, 64),
    "mnasnet0_5": ({}, 64),
    "shufflenet_v2_x0_5": ({}, 64),
    "efficientnet_b0": ({}, 64),
    "efficientnet_v2_s": ({}, 64),
    "regnet_y_400mf": ({}, 64),
    "convnext_tiny": ({}, 64),
    "fcn_resnet50": ({"weights_backbone": None, "aux_loss": False}, 32),
    "lraspp_mobilenet_v3_large": ({"weights_backbone": None}, 32),
}
SEGMENTATION = {"fcn_resnet50", "lraspp_mobilenet_v3_large"}
INPUT_SEED = 999_999


def deterministic(count, seed):
    """`count` values in [-1, 1] from integer arithmetic alone, so that Swift computes the same
    float32 bits (Tests/ModelZooTests/TorchvisionFamilyTests.swift has the twin)."""
    index = np.arange(count, dtype=np.uint64)
    hashed = (index * np.uint64(2654435761) + np.uint64(seed * 40503 + 12345)) % np.uint64(2**32)
    return ((hashed % np.uint64(2001)).astype(np.int64) - 1000).astype(np.float32) / np.float32(1000)


def fill(model):
    """Every parameter and buffer from `deterministic`, seeded by its rank in the sorted keys."""
    state = model.state_dict()
    for seed, name in enumerate(sorted(state)):
        tensor = state[name]
        if tensor.dtype == torch.int64:
            tensor.zero_()
            continue
        u = deterministic(tensor.numel(), seed).reshape(tuple(tensor.shape))
        if name.endswith("running_var"):
            values = np.float32(1) + np.float32(0.5) * np.abs(u)
        elif tensor.dim() >= 2:
            fan_in = int(np.prod(tensor.shape[1:]))
            values = u * np.float32(1.0 / math.sqrt(fan_in))
        elif name.endswith("weight"):
            values = np.float32(1) + np.float32(0.1) * u
        else:
            values = np.float32(0.1) * u
        tensor.copy_(torch.from_numpy(values))


def build(family):
    keywords, _ = FAMILIES[family]
    if family in SEGMENTATION:
        return getattr(torchvision.models.segmentation, family)(weights=None, **keywords).eval()
    return getattr(torchvision.models, family)(weights=None, **keywords).eval()


def preprocess(family):
    """torchvision's DEFAULT weights' transforms() in the manifest's JSON form."""
    weights = get_model_weights(family).DEFAULT
    transform = weights.transforms()
    interpolation = str(transform.interpolation.value)
    resize = {"type": "Resize", "size": list(transform.resize_size), "interpolation": interpolation}
    steps = [resize]
    if hasattr(transform, "crop_size"):
        steps.append({"type": "CenterCrop", "size": list(transform.crop_size)})
    steps += [{"type": "ToTensor"}, {"type": "Normalize", "mean": list(transform.mean), "std": list(transform.std)}]
    return steps, weights


def main():
    families = sys.argv[1:] or list(FAMILIES)
    os.makedirs(FIXTURES, exist_ok=True)
    os.makedirs(os.path.dirname(RESOURCE), exist_ok=True)
    shipped = dict(read_zip(RESOURCE))
    decomposed = dict(read_zip(os.path.join(FIXTURES, "decomposed.zip")))
    described = json.loads(shipped.get("families.json", b"{}")).get("families", {})
    categories = json.loads(shipped.get("categories.json", b"{}"))
    for family in families:
        model = build(family)
        fill(model)
        _, size = FAMILIES[family]
        example = torch.rand(2, 3, 224, 224)
        dims = {0: torch.export.Dim("batch", min=1, max=1024), 2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO}
        program = torch.export.export(model, (example,), dynamic_shapes=(dims,))
        x = torch.from_numpy(deterministic(2 * 3 * size * size, INPUT_SEED).reshape(2, 3, size, size))
        with torch.no_grad():
            eager = model(x)
            exported = program.module()(x)
        names = list(eager) if isinstance(eager, dict) else None
        first = (lambda y: y[names[0]]) if names else (lambda y: y)
        assert torch.allclose(first(eager), first(exported), atol=1e-5), family
        np.save(os.path.join(FIXTURES, f"{family}.expect.npy"), first(eager).numpy())
        if family == "squeezenet1_1":  # the command-line tests build a bare state_dict of these shapes
            with open(os.path.join(FIXTURES, f"{family}.shapes.json"), "w") as f:
                json.dump({key: list(value.shape) for key, value in model.state_dict().items()}, f, indent=0)
        shipped[f"{family}.json"] = json.dumps(zoo_h5.program_document(program, keep_metadata=()), separators=(",", ":")).encode()
        decomposed[f"{family}.json"] = json.dumps(zoo_h5.program_document(program.run_decompositions(), keep_metadata=()), separators=(",", ":")).encode()
        steps, weights = preprocess(family)
        category_set = "voc" if family in SEGMENTATION else "imagenet"
        categories[category_set] = list(weights.meta["categories"])
        described[family] = {
            "preprocess": steps,
            "categories": category_set,
            "weights": str(weights),
            "keys": len(model.state_dict()),
            "outputs": names,
            "test_size": size,
        }
        print(family, "program", len(shipped[f"{family}.json"]), "bytes", flush=True)
        # Written after each family, so that one that fails to export loses only itself.
        document = {"families": described, "torch_version": torch.__version__, "torchvision_version": torchvision.__version__}
        shipped["families.json"] = json.dumps(document, indent=1, sort_keys=True).encode()
        shipped["categories.json"] = json.dumps(categories, indent=0, sort_keys=True).encode()
        write_zip(RESOURCE, shipped)
        write_zip(os.path.join(FIXTURES, "decomposed.zip"), decomposed)


def read_zip(path):
    if not os.path.exists(path):
        return []
    with zipfile.ZipFile(path) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def write_zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name])


if __name__ == "__main__":
    main()
