"""PyTorch <-> zoo round trips. Needs torch (and torchvision for resnet18) and a built `zoo`
(ZOO_BIN, else .build/release/zoo, else .build/debug/zoo); skipped where torch is absent (CI).

    .venv-torch/bin/python -m pytest Tools/tests/test_torch_interop.py
"""
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
import zoo_h5  # noqa: E402
from zoo_models import INPUT_SHAPES, REGISTRY  # noqa: E402


def zoo_binary():
    for candidate in [os.environ.get("ZOO_BIN"), os.path.join(ROOT, ".build/release/zoo"), os.path.join(ROOT, ".build/debug/zoo")]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("no zoo binary: run `swift build` first or set ZOO_BIN")


def zoo(*args):
    return subprocess.run([zoo_binary(), *args], capture_output=True, text=True, cwd=ROOT)


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
