#!/usr/bin/env python3
"""torch.export programs (.pt2) for the container tests, and what PyTorch says they hold.

    .venv-torch/bin/python Tools/make_pt2_fixtures.py

Writes Tests/CheckpointTests/Fixtures/pt2/: graycnn.pt2 (convolutions, pooling, Linear) and
encdec.pt2 (Conv2d, BatchNorm2d with its buffers, ConvTranspose2d), each exported from a fresh
registry model with `torch.export.export` and saved with `torch.export.save`, and expected.json:
for each, the state_dict's keys, shapes and dtypes, the ATen operators the graph calls with their
counts, the sample input's shape, and the torch and schema versions the archive records. Also
two archives zoo must refuse, edited from encdec.pt2: schema_too_new.pt2 (schema major 99) and
pickled_weight.pt2 (a weight marked use_pickle), and truncated.pt2 (its first half).
"""
import collections
import json
import os
import zipfile

import torch

from zoo_models import REGISTRY

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "Tests", "CheckpointTests", "Fixtures", "pt2")


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, model, shape in [("graycnn", REGISTRY["graycnn"](), (1, 1, 32, 32)),
                               ("encdec", REGISTRY["encdec"](in_channels=1, base=8), (2, 1, 16, 16))]:
        torch.manual_seed(0)
        model = model.eval()
        x = torch.rand(*shape)
        program = torch.export.export(model, (x,))
        path = os.path.join(OUT, f"{name}.pt2")
        torch.export.save(program, path)
        operators = collections.Counter(str(node.target) for node in program.graph.nodes if node.op == "call_function")
        expected[name] = {
            "state_dict": {key: {"shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", "")}
                           for key, value in model.state_dict().items()},
            "operators": dict(sorted(operators.items())),
            "sample_input_shape": list(shape),
            "torch_version": torch.__version__,
        }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
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
