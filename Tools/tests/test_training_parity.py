"""The same run in zoo and PyTorch: Zoo/digits.h5 fine-tuned for 2 epochs of Adam on digit
pictures in an ImageFolder, in file order, gives per-epoch losses within 1e-3 relative of
PyTorch's and the same held-out accuracy to within one picture; the same seed gives the same
file twice. Needs torch, torchvision, scikit-learn, Pillow and a built `zoo`.

    .venv-torch/bin/python -m pytest Tools/tests/test_training_parity.py
"""
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("sklearn")
Image = pytest.importorskip("PIL.Image")

import zoo_h5  # noqa: E402
from zoo_cli import ROOT, zoo  # noqa: E402
from zoo_models import REGISTRY  # noqa: E402


@pytest.fixture(scope="module")
def digit_folders(tmp_path_factory):
    """Zoo/digits.h5's own split (80% stratified, random_state=0, as Tools/make_trained_zoo.py):
    the first 320 training pictures and 120 held-out ones, as ImageFolder trees of 8x8 PNGs."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    pixels = np.rint(digits.images * 255.0 / 16.0).astype(np.uint8)
    indices = np.arange(len(pixels))
    train_index, test_index = train_test_split(indices, test_size=0.2, random_state=0, stratify=digits.target)
    root = tmp_path_factory.mktemp("digits")
    for name, chosen in (("train", train_index[:320]), ("val", test_index[:120])):
        for i in chosen:
            folder = root / name / str(digits.target[i])
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels[i], mode="L").save(folder / f"{i:04d}.png")
    return str(root / "train"), str(root / "val")


def pytorch_run(train_folder, val_folder, epochs=2, batch_size=32):
    from torchvision import datasets, transforms

    manifest = zoo_h5.read_manifest(os.path.join(ROOT, "Zoo", "digits.h5"))
    steps = [getattr(transforms, s["type"])(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in s.items() if k != "type"})
             for s in manifest["preprocess"]]
    pipeline = transforms.Compose(steps)
    model = REGISTRY["graycnn"]()
    model.load_state_dict(zoo_h5.load(os.path.join(ROOT, "Zoo", "digits.h5")), strict=True)
    loader = torch.utils.data.DataLoader(datasets.ImageFolder(train_folder, pipeline), batch_size=batch_size, shuffle=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    losses = []
    for _ in range(epochs):
        model.train()
        total, seen = 0.0, 0
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            total, seen = total + loss.item() * len(y), seen + len(y)
        losses.append(total / seen)
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(datasets.ImageFolder(val_folder, pipeline), batch_size=64):
            correct += (model(x).argmax(1) == y).sum().item()
    return losses, correct


def test_two_epochs_of_adam_match_pytorch(digit_folders, tmp_path):
    train_folder, val_folder = digit_folders
    out = str(tmp_path / "tuned.h5")
    result = zoo("train", "Zoo/digits.h5", "--output", out, "--data", train_folder, "--val", val_folder, "--epochs", "2",
                 "--batch-size", "32", "--no-shuffle", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    losses, correct = pytorch_run(train_folder, val_folder)
    for record, expected in zip(report["epochs"], losses):
        assert abs(record["loss"] - expected) <= 1e-3 * abs(expected), (record, expected)
    assert abs(round(report["epochs"][-1]["val_accuracy"] * 120) - correct) <= 1
    assert zoo("verify", out).returncode == 0


def test_the_same_seed_gives_the_same_file(digit_folders, tmp_path):
    train_folder, _ = digit_folders
    paths = [str(tmp_path / name) for name in ("a.h5", "b.h5")]
    for path in paths:
        result = zoo("train", "Zoo/digits.h5", "--output", path, "--data", train_folder, "--epochs", "1", "--batch-size", "64",
                     "--seed", "5", "--steps", "3")
        assert result.returncode == 0, result.stderr
    with open(paths[0], "rb") as a, open(paths[1], "rb") as b:
        assert a.read() == b.read()
