"""Training runs handed over between zoo and PyTorch: one more PyTorch step from a file
`zoo train` wrote equals one more `zoo train --resume --steps 1`, and a file
`zoo_h5.save_training` wrote continues in zoo as in PyTorch. Needs torch and a built `zoo`.

    .venv-torch/bin/python -m pytest Tools/tests/test_training.py
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import zoo_h5  # noqa: E402
from zoo_cli import zoo  # noqa: E402
from zoo_models import REGISTRY  # noqa: E402


def close(actual, expected):
    """The gradient rule: max |a - e| <= 1e-4 x max(1, max |e|)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return np.max(np.abs(actual - expected), initial=0) <= 1e-4 * max(1.0, np.max(np.abs(expected), initial=0))


@pytest.fixture
def run(tmp_path):
    """graycnn from `zoo export`, 12 random examples of 10 classes as .npy."""
    start = str(tmp_path / "start.h5")
    assert zoo("export", "graycnn", "--seed", "2", "--output", start).returncode == 0
    rng = np.random.default_rng(0)
    x, y = str(tmp_path / "x.npy"), str(tmp_path / "y.npy")
    np.save(x, rng.standard_normal((12, 1, 32, 32)).astype(np.float32))
    np.save(y, rng.integers(0, 10, 12).astype(np.int64))
    return tmp_path, start, x, y


def train(*arguments):
    result = zoo("train", *arguments)
    assert result.returncode == 0, result.stderr
    return result


def pytorch_step(model, optimizer, x, y):
    model.train()
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


@pytest.mark.parametrize("flags", [["--optimizer", "adam"], ["--optimizer", "adamw", "--lr", "0.01"],
                                   ["--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9", "--weight-decay", "0.01"]])
def test_one_more_pytorch_step_equals_one_more_zoo_step(run, flags):
    folder, start, x, y = run
    common = ["--inputs", x, "--targets", y, "--epochs", "2", "--batch-size", "4", "--no-shuffle"]
    first, second = str(folder / "first.h5"), str(folder / "second.h5")
    train(start, "--output", first, "--steps", "4", *common, *flags)
    train(first, "--resume", "--output", second, "--steps", "1", *common)

    state, optimizer_state, training = zoo_h5.load_training(first)
    assert (training["epoch"], training["step"], training["global_step"]) == (1, 1, 4)
    model = REGISTRY["graycnn"]()
    model.load_state_dict(state, strict=True)
    optimizer = getattr(torch.optim, training["optimizer_class"])(model.parameters())
    optimizer.load_state_dict(optimizer_state)
    inputs, targets = torch.from_numpy(np.load(x)), torch.from_numpy(np.load(y))
    pytorch_step(model, optimizer, inputs[4:8], targets[4:8])  # --no-shuffle: epoch 2's second batch

    expected = zoo_h5.load(second)
    for key, value in model.state_dict().items():
        assert close(expected[key].numpy(), value.detach().numpy()), key
    _, zoo_state, _ = zoo_h5.load_training(second)
    for index, entry in optimizer.state_dict()["state"].items():
        for name, value in entry.items():
            assert close(zoo_state["state"][index][name].numpy(), value.numpy()), (index, name)


def test_a_run_pytorch_saved_continues_in_zoo(run):
    folder, start, x, y = run
    model = REGISTRY["graycnn"]()
    model.load_state_dict(zoo_h5.load(start), strict=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.002, amsgrad=True)
    inputs, targets = torch.from_numpy(np.load(x)), torch.from_numpy(np.load(y))
    for first in (0, 4):
        pytorch_step(model, optimizer, inputs[first:first + 4], targets[first:first + 4])
    saved = str(folder / "saved.h5")
    zoo_h5.save_training(model, optimizer, saved, epoch=0, step=2, global_step=2, batch_size=4, shuffle=False,
                         arch="graycnn", arch_args={"num_classes": 10})
    continued = str(folder / "continued.h5")
    train(saved, "--resume", "--output", continued, "--steps", "1", "--inputs", x, "--targets", y, "--epochs", "1",
          "--batch-size", "4")
    pytorch_step(model, optimizer, inputs[8:12], targets[8:12])
    expected = zoo_h5.load(continued)
    for key, value in model.state_dict().items():
        assert close(expected[key].numpy(), value.detach().numpy()), key


def test_load_training_reads_safetensors_as_it_reads_h5(run):
    folder, start, x, y = run
    common = ["--inputs", x, "--targets", y, "--epochs", "2", "--batch-size", "4", "--steps", "4", "--seed", "3"]
    loaded = {}
    for extension in ("h5", "safetensors"):
        path = str(folder / f"run.{extension}")
        train(start, "--output", path, *common)
        loaded[extension] = zoo_h5.load_training(path)
    (h5_state, h5_optimizer, h5_training), (st_state, st_optimizer, st_training) = loaded["h5"], loaded["safetensors"]
    assert h5_state.keys() == st_state.keys()
    assert all(torch.equal(h5_state[key], st_state[key]) for key in h5_state)
    assert h5_training == st_training
    assert h5_optimizer["param_groups"] == st_optimizer["param_groups"]
    assert all(torch.equal(h5_optimizer["state"][i][name], st_optimizer["state"][i][name])
               for i in h5_optimizer["state"] for name in h5_optimizer["state"][i])
    model = REGISTRY["graycnn"]()
    model.load_state_dict(st_state, strict=True)
    torch.optim.Adam(model.parameters()).load_state_dict(st_optimizer)


def test_a_scheduled_run_crosses_between_zoo_and_pytorch(run):
    """zoo stops inside epoch 2 of a StepLR run; PyTorch finishes epoch 2 from the file and
    steps the scheduler; zoo finishes epoch 3 from PyTorch's file; both agree with zoo's own
    resumed run in weights and learning rate."""
    folder, start, x, y = run
    common = ["--inputs", x, "--targets", y, "--epochs", "3", "--batch-size", "4", "--no-shuffle"]
    schedule = ["--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9", "--scheduler", "step", "--step-size", "1",
                "--gamma", "0.5"]
    first, finished = str(folder / "first.h5"), str(folder / "finished.h5")
    train(start, "--output", first, "--steps", "4", *common, *schedule)
    train(first, "--resume", "--output", finished, *common)

    state, optimizer_state, training = zoo_h5.load_training(first)
    assert training["scheduler_class"] == "StepLR" and training["scheduler"]["last_epoch"] == 1
    model = REGISTRY["graycnn"]()
    model.load_state_dict(state, strict=True)
    optimizer = torch.optim.SGD(model.parameters())
    optimizer.load_state_dict(optimizer_state)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    scheduler.load_state_dict(training["scheduler"])
    assert optimizer.param_groups[0]["lr"] == 0.05
    inputs, targets = torch.from_numpy(np.load(x)), torch.from_numpy(np.load(y))
    for first_index in (4, 8):
        pytorch_step(model, optimizer, inputs[first_index:first_index + 4], targets[first_index:first_index + 4])
    scheduler.step()
    handed = str(folder / "handed.h5")
    zoo_h5.save_training(model, optimizer, handed, epoch=2, step=0, global_step=6, batch_size=4, shuffle=False,
                         scheduler=scheduler, arch="graycnn", arch_args={"num_classes": 10})
    back = str(folder / "back.h5")
    train(handed, "--resume", "--output", back, *common)

    expected = zoo_h5.load(finished)
    for key, value in zoo_h5.load(back).items():
        assert close(value.numpy(), expected[key].numpy()), key
    _, _, ended = zoo_h5.load_training(back)
    _, _, reference = zoo_h5.load_training(finished)
    assert ended["optimizer"]["param_groups"][0]["lr"] == reference["optimizer"]["param_groups"][0]["lr"] == 0.0125
    assert ended["scheduler"]["last_epoch"] == reference["scheduler"]["last_epoch"] == 3
