"""PyTorch <-> zoo round trips. Needs torch (and torchvision for resnet18) and a built `zoo`
(ZOO_BIN, else .build/release/zoo, else .build/debug/zoo); skipped where torch is absent (CI).

    .venv-torch/bin/python -m pytest Tools/tests/test_torch_interop.py
"""
import json
import os
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
import zoo_h5  # installed by Tools/setup.sh: pip install ./Tools/python  # noqa: E402
from zoo_models import INPUT_SHAPES, REGISTRY  # noqa: E402
from zoo_cli import zoo  # noqa: E402


SMALL_ARCHS = [("simplecnn", {"num_classes": 7}), ("graycnn", {}), ("net", {}), ("cnnmodel", {}), ("edgedetect", {}), ("encdec", {"base": 8})]


@pytest.mark.parametrize("name,args", SMALL_ARCHS + [("resnet18", {"num_classes": 5})])
def test_zoo_export_loads_strict_in_pytorch_and_matches_zoo_run(tmp_path, name, args):
    if name == "resnet18":
        pytest.importorskip("torchvision")
    path = str(tmp_path / f"{name}.h5")
    sets = [a for k, v in args.items() for a in ("--set", f"{k}={v}")]
    result = zoo("export", name, "--seed", "5", *sets, "--output", path)
    assert result.returncode == 0, result.stderr
    model = REGISTRY[name](**args)
    model.load_state_dict(zoo_h5.load(path), strict=True)
    model.eval()
    shape = INPUT_SHAPES[name]
    x = torch.rand((2,) + shape) * 2 - 1
    np.save(tmp_path / "x.npy", x.numpy())
    result = zoo("run", path, "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"))
    assert result.returncode == 0, result.stderr
    with torch.no_grad():
        expected = model(x).numpy()
    actual = np.load(tmp_path / "y.npy")
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, atol=1e-5 * max(1.0, float(np.abs(expected).max())), rtol=0)
    # The reference pair zoo embedded was computed in Swift; PyTorch must agree with it too.
    with torch.no_grad():
        import h5py
        with h5py.File(path) as f:
            x0 = torch.as_tensor(f["__tests__/input_0"][()])
            y0 = f["__tests__/output_0"][()]
        np.testing.assert_allclose(model(x0).numpy(), y0, atol=1e-5 * max(1.0, float(np.abs(y0).max())), rtol=0)


def test_torchvision_resnet18_plain_export_is_recognised_and_verified(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 3, 64, 64))
    model.eval()
    path = str(tmp_path / "resnet18.h5")
    import h5py
    with h5py.File(path, "w") as f:
        for k, v in model.state_dict().items():
            f.create_dataset(k, data=v.numpy())
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        y = model(x)
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", y.numpy())
    result = zoo("verify", path, "--input", str(tmp_path / "x.npy"), "--expect", str(tmp_path / "y.npy"))
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resnet18(num_classes=1000)" in result.stdout
    assert "recognised" in result.stdout


def test_zoo_h5_save_of_sequential_verifies(tmp_path):
    import torch.nn as nn

    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    model.eval()
    path = str(tmp_path / "seq.h5")
    zoo_h5.save(model, path, example_input=torch.randn(2, 3, 9, 9))
    result = zoo("verify", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "model_config" in result.stdout


def _every_dtype_state():
    torch.manual_seed(3)
    base = torch.randn(3, 4)
    return {
        "f32": base, "f64": base.double(), "f16": base.half(), "bf16": base.bfloat16(), "i64": torch.arange(5),
        "i32": torch.arange(3, dtype=torch.int32), "i16": torch.tensor([-7, 8], dtype=torch.int16),
        "i8": torch.tensor([-1, 2], dtype=torch.int8), "u8": torch.tensor([250], dtype=torch.uint8),
        "b": torch.tensor([True, False]), "t": base.t(), "scalar": torch.tensor(2),
    }


def _assert_bitwise_equal(expected, actual):
    assert list(expected) == list(actual) or set(expected) == set(actual)
    for key, tensor in expected.items():
        got = actual[key]
        assert got.dtype == tensor.dtype, key
        assert got.shape == tensor.shape, key
        assert torch.equal(got.contiguous().view(-1).view(torch.uint8) if got.numel() else got,
                           tensor.contiguous().view(-1).view(torch.uint8) if tensor.numel() else tensor), key


@pytest.mark.parametrize("zipfile_format", [True, False])
def test_torch_save_to_h5_loads_strictly_bit_for_bit(tmp_path, zipfile_format):
    torch.manual_seed(4)
    model = REGISTRY["encdec"](in_channels=1, base=4)
    model.train()
    with torch.no_grad():
        model(torch.randn(2, 1, 8, 8))
    model.eval()
    source = str(tmp_path / "model.pt")
    torch.save({"epoch": 1, "state_dict": model.state_dict()}, source, _use_new_zipfile_serialization=zipfile_format)
    target = str(tmp_path / "model.h5")
    result = zoo("convert", source, target)
    assert result.returncode == 0, result.stdout + result.stderr
    fresh = REGISTRY["encdec"](in_channels=1, base=4)
    fresh.load_state_dict(zoo_h5.load(target), strict=True)
    _assert_bitwise_equal(model.state_dict(), fresh.state_dict())
    imported = str(tmp_path / "imported.h5")
    assert zoo("import", source, "--output", imported).returncode == 0


def test_every_dtype_through_h5_and_safetensors_is_bit_for_bit(tmp_path):
    from safetensors.torch import load_file

    state = _every_dtype_state()
    source = str(tmp_path / "all.pth")
    torch.save(state, source)
    h5 = str(tmp_path / "all.h5")
    st = str(tmp_path / "all.safetensors")
    assert zoo("convert", source, h5).returncode == 0
    _assert_bitwise_equal(state, zoo_h5.load(h5))
    result = zoo("convert", h5, st)
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_bitwise_equal(state, load_file(st))
    back = str(tmp_path / "back.h5")
    assert zoo("convert", st, back).returncode == 0
    _assert_bitwise_equal(state, zoo_h5.load(back))


def test_safetensors_round_trip_keeps_the_manifest_and_reference_vectors(tmp_path):
    source = os.path.join(ROOT, "Zoo", "simplecnn.h5")
    st = str(tmp_path / "s.safetensors")
    back = str(tmp_path / "s.h5")
    assert zoo("convert", source, st).returncode == 0
    assert zoo("verify", st).returncode == 0
    assert zoo("convert", st, back).returncode == 0
    before = json.loads(zoo("inspect", source, "--json").stdout)
    after = json.loads(zoo("inspect", back, "--json").stdout)
    assert before["manifest"]["tensors"] == after["manifest"]["tensors"]
    assert before["manifest"]["arch"] == after["manifest"]["arch"]
    assert after["reference_vectors"] == before["reference_vectors"] == 1
    import h5py
    with h5py.File(source, "r") as a, h5py.File(back, "r") as b:
        np.testing.assert_array_equal(a["__tests__/output_0"][()], b["__tests__/output_0"][()])


def test_from_torch_file_matches_zoo_convert(tmp_path):
    state = {"module." + k: v for k, v in _every_dtype_state().items()}
    source = str(tmp_path / "dp.pt")
    torch.save({"model": state, "epoch": 2}, source)
    target = str(tmp_path / "dp.h5")
    zoo_h5.from_torch_file(source, target)
    expected = {k[len("module."):]: v for k, v in state.items()}
    _assert_bitwise_equal(expected, zoo_h5.load(target))
    assert zoo("verify", target, "--arch", "net").returncode == 1  # keys differ from net's: a check failure, not a crash
    assert zoo("inspect", target).returncode == 0


def test_a_signed_checkpoint_still_loads_strictly_in_pytorch(tmp_path):
    key = str(tmp_path / "key")
    assert zoo("keygen", "--output", key).returncode == 0
    path = str(tmp_path / "encdec.h5")
    assert zoo("export", "encdec", "--set", "base=8", "--output", path).returncode == 0
    assert zoo("sign", path, "--key", key).returncode == 0
    model = REGISTRY["encdec"](base=8)
    model.load_state_dict(zoo_h5.load(path), strict=True)
    assert zoo_h5.verify_signature(path, key + ".pub")


class _OwnForward(torch.nn.Module):
    """What people write in forward methods: a residual add, torch.cat, x.mean((2, 3)), a view."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU())
        self.branch = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.head = torch.nn.Linear(16 + 16 * 4, 5)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([x, torch.nn.functional.silu(x + self.branch(x))], 1)
        pooled = torch.nn.functional.adaptive_avg_pool2d(x, 2).view(x.size(0), -1)
        return self.head(torch.cat([pooled, x.mean((2, 3))], 1))


def test_zoo_h5_save_records_the_program_and_zoo_verify_proves_the_forward_pass(tmp_path):
    torch.manual_seed(3)
    model = _OwnForward().eval()
    path = str(tmp_path / "own.h5")
    zoo_h5.save(model, path, example_input=torch.rand(2, 3, 12, 12))
    assert "torch_export_program" in zoo_h5.read_manifest(path)
    result = zoo("verify", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "torch.export program" in result.stdout
    assert "__tests__" in result.stdout or "forward" in result.stdout
    # The batch size was exported dynamic: another batch runs and equals PyTorch's.
    x = torch.rand(5, 3, 12, 12)
    np.save(tmp_path / "x.npy", x.numpy())
    with torch.no_grad():
        np.save(tmp_path / "y.npy", model(x).numpy())
    result = zoo("verify", path, "--input", str(tmp_path / "x.npy"), "--expect", str(tmp_path / "y.npy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_pt2_zoo_writes_runs_in_pytorch_with_zoos_outputs(tmp_path):
    torch.manual_seed(4)
    model = _OwnForward().eval()
    x = torch.rand(2, 3, 12, 12)
    torch.export.save(torch.export.export(model, (x,)), str(tmp_path / "own.pt2"))
    for source, target in [("own.pt2", "own.h5"), ("own.h5", "again.pt2")]:
        result = zoo("convert", str(tmp_path / source), str(tmp_path / target))
        assert result.returncode == 0, result.stdout + result.stderr
    np.save(tmp_path / "x.npy", x.numpy())
    result = zoo("run", str(tmp_path / "own.h5"), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "zoo.npy"))
    assert result.returncode == 0, result.stderr
    loaded = torch.export.load(str(tmp_path / "again.pt2")).module()
    with torch.no_grad():
        theirs = loaded(x).numpy()
    ours = np.load(tmp_path / "zoo.npy")
    np.testing.assert_allclose(theirs, ours, atol=1e-4 * max(1.0, float(np.abs(theirs).max())), rtol=0)


def test_a_bare_torchvision_state_dict_runs_on_zoos_family_program(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(5)
    model = torchvision.models.mobilenet_v2(weights=None).eval()
    torch.save(model.state_dict(), tmp_path / "mobilenet_v2.pth")
    x = torch.rand(2, 3, 96, 112)
    with torch.no_grad():
        y = model(x)
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", y.numpy())
    result = zoo("verify", str(tmp_path / "mobilenet_v2.pth"), "--input", str(tmp_path / "x.npy"), "--expect", str(tmp_path / "y.npy"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "torchvision mobilenet_v2" in result.stdout
