"""Trains the zoo's models on data that ships inside scikit-learn (nothing is downloaded) and
writes them with the preprocessing, classes, held-out set and metrics that let zoo prove them:

    Zoo/digits.h5               graycnn(num_classes=10) on sklearn's handwritten digits
    Zoo/digits_autoencoder.h5   encdec(in_channels=1) reconstructing the same digit pictures
    Zoo/edgedetect.h5           seed 001's edge detector, with the preprocess that reproduces it
    Docs/                       the README walkthroughs' pictures

Run with the torch venv (about a minute on 2 cores, deterministic):
    .venv-torch/bin/python Tools/make_trained_zoo.py
"""
import os

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
import zoo_h5  # noqa: E402
from make_zoo import example, make  # noqa: E402
from zoo_models import REGISTRY  # noqa: E402

ZOO = os.path.join(ROOT, "Zoo")
DOCS = os.path.join(ROOT, "Docs")
DIGITS_PREPROCESS = [{"type": "Grayscale", "num_output_channels": 1}, {"type": "Resize", "size": [32, 32]}, {"type": "ToTensor"}]
EDGE_PREPROCESS = [{"type": "Grayscale", "num_output_channels": 1}, {"type": "PILToTensor"}]


def deterministic(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)


def digit_pictures():
    """sklearn's 1,797 8x8 digits (values 0-16) as 8-bit grey pictures: value x 255 / 16, rounded."""
    digits = load_digits()
    pixels = np.rint(digits.images * 255.0 / 16.0).astype(np.uint8)
    return [Image.fromarray(p, mode="L") for p in pixels], digits.target.astype(np.int64)


def preprocess(pictures, steps):
    pipeline = transforms.Compose([getattr(transforms, s["type"])(**{k: (tuple(v) if isinstance(v, list) else v)
                                                                     for k, v in s.items() if k != "type"}) for s in steps])
    return torch.stack([pipeline(p) for p in pictures])


def train(model, x, target, criterion, epochs, learning_rate, seed):
    """The seeds' loop: Adam, shuffled batches of 64, deterministic from `seed`."""
    deterministic(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), 64):
            batch = order[start:start + 64]
            optimizer.zero_grad()
            loss = criterion(model(x[batch]), target[batch])
            loss.backward()
            optimizer.step()
    return model.eval()


def train_classifier(x, y, epochs=12):
    deterministic(0)
    return train(REGISTRY["graycnn"](num_classes=10), x, y, nn.CrossEntropyLoss(), epochs, 1e-3, 0)


def train_autoencoder(x, epochs=25):
    deterministic(1)
    return train(REGISTRY["encdec"](in_channels=1), x, x, nn.BCELoss(), epochs, 2e-3, 1)


def edge_photo():
    """A 160x120 synthetic photograph (sky, hills, a house, a sun), for the edges walkthrough."""
    height, width = 120, 160
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.zeros((height, width, 3))
    image[...] = np.stack([120 + 60 * y / height, 170 + 40 * y / height, 235 - 30 * y / height], axis=-1)
    hills = y > 80 + 12 * np.sin(x / 18.0)
    image[hills] = [70, 140, 60]
    house = (x > 60) & (x < 100) & (y > 60) & (y < 95)
    image[house] = [200, 180, 150]
    roof = (y <= 60) & (y > 40) & (np.abs(x - 80) < (y - 40) * 1.1)
    image[roof] = [150, 50, 40]
    door = (x > 75) & (x < 85) & (y > 78) & (y < 95)
    image[door] = [90, 60, 30]
    sun = (x - 130) ** 2 + (y - 25) ** 2 < 144
    image[sun] = [250, 220, 60]
    noise = np.random.default_rng(3).normal(0, 4, image.shape)
    return Image.fromarray(np.clip(np.rint(image + noise), 0, 255).astype(np.uint8))


def main():
    os.makedirs(DOCS, exist_ok=True)
    pictures, labels = digit_pictures()
    indices = np.arange(len(pictures))
    train_index, test_index = train_test_split(indices, test_size=0.2, random_state=0, stratify=labels)
    x = preprocess(pictures, DIGITS_PREPROCESS)
    y = torch.from_numpy(labels)

    classifier = train_classifier(x[train_index], y[train_index])
    held_out = torch.from_numpy(test_index)
    zoo_h5.save(classifier, os.path.join(ZOO, "digits.h5"), arch="graycnn", arch_args={"num_classes": 10},
                example_input=x[held_out[:4]], preprocess=DIGITS_PREPROCESS, classes=[str(d) for d in range(10)],
                eval_set=(x[held_out], y[held_out]),
                metrics={"train_set": "sklearn.datasets.load_digits, 80% stratified (random_state=0)", "epochs": 12})
    with torch.no_grad():
        accuracy = float((classifier(x[held_out]).argmax(1) == y[held_out]).double().mean())
    print(f"digits: held-out accuracy {accuracy:.4f} on {len(test_index)} images")

    autoencoder = train_autoencoder(x[train_index])
    with torch.no_grad():
        mse = float(((autoencoder(x[held_out]) - x[held_out]) ** 2).mean())
    zoo_h5.save(autoencoder, os.path.join(ZOO, "digits_autoencoder.h5"), arch="encdec", arch_args={"in_channels": 1, "base": 32},
                example_input=x[held_out[:2]], preprocess=DIGITS_PREPROCESS,
                metrics={"reconstruction_mse": mse, "eval_images": len(test_index), "epochs": 25})
    print(f"autoencoder: held-out reconstruction MSE {mse:.5f}")

    # Seed 001's edge detector: the weights make_zoo.py gives it (seed 4), now with its preprocess.
    edges = make("edgedetect", 4)
    zoo_h5.save(edges, os.path.join(ZOO, "edgedetect.h5"), arch="edgedetect", arch_args={}, example_input=example("edgedetect"),
                preprocess=EDGE_PREPROCESS)

    # Walkthrough pictures: a held-out digit, and a photograph for the edges.
    sample = int(test_index[0])
    pictures[sample].save(os.path.join(DOCS, "digit.png"))  # 8x8, exactly what the model was trained on
    print(f"Docs/digit.png is a {labels[sample]}")
    photo = edge_photo()
    photo.save(os.path.join(DOCS, "photo.png"))
    # Seed 001 as PyTorch runs it: conv2d on np.array(Image.open(photo).convert("L"), dtype=np.float32).
    grey = np.array(Image.open(os.path.join(DOCS, "photo.png")).convert("L"), dtype=np.float32)
    with torch.no_grad():
        channel0 = edges(torch.from_numpy(grey.reshape(1, 1, *grey.shape)))[0, 0].numpy()
    np.save(os.path.join(ROOT, "Tests", "ModelZooTests", "Fixtures", "edges_photo.expect.npy"), channel0)


if __name__ == "__main__":
    main()
