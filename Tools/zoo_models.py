"""The PyTorch definitions of zoo's registry, exactly as the Swift ModelZoo builds them.

    from zoo_models import REGISTRY
    model = REGISTRY["simplecnn"](num_classes=10)
"""
import torch
import torch.nn as nn


class SimpleCNN(nn.Module):
    """Seed 004's SimpleCNN; input 3x32x32 (in_channels=1 gives the grayscale twin)."""

    def __init__(self, num_classes=10, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 8 * 8, 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        x = self.relu(self.fc1(x))
        return self.fc2(x)


def graycnn(num_classes=10):
    return SimpleCNN(num_classes=num_classes, in_channels=1)


class Net(nn.Module):
    """Seed 004's first Net; input 3x32x32."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(32 * 32 * 32, 10)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        return self.fc(x.view(x.size(0), -1))


class ConvLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 32, 3, 1, 1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv(x))


class FCLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(x)


class CNNModel(nn.Module):
    """Seed 003's CNNModel: N x 1 x H x 32 -> N x 32 x H x 10 (Linear on the last axis)."""

    def __init__(self):
        super().__init__()
        self.conv_layer = ConvLayer()
        self.fc_layer = FCLayer()

    def forward(self, x):
        return self.fc_layer(self.conv_layer(x))


class EdgeDetect(nn.Module):
    """Seed 001: Conv2d(1, 2, (5, 5), bias=False), output channel 0 the fixed edge kernel."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, (5, 5), bias=False)
        kernel = torch.full((5, 5), -1.0)
        kernel[2, 2] = 24
        with torch.no_grad():
            self.conv.weight[0, 0] = kernel

    def forward(self, x):
        return self.conv(x)


class EncDec(nn.Module):
    """Seed 002's k=4, s=2, p=1 encoder/decoder."""

    def __init__(self, in_channels=3, base=32):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, base, 4, 2, 1, bias=False), nn.BatchNorm2d(base), nn.ReLU(),
            nn.Conv2d(base, base * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(base * 2), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(base * 2, base, 4, 2, 1, bias=False), nn.BatchNorm2d(base), nn.ReLU(),
            nn.ConvTranspose2d(base, in_channels, 4, 2, 1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


def resnet18(num_classes=1000):
    import torchvision

    return torchvision.models.resnet18(weights=None, num_classes=num_classes)


REGISTRY = {
    "simplecnn": SimpleCNN,
    "graycnn": graycnn,
    "net": Net,
    "cnnmodel": CNNModel,
    "edgedetect": EdgeDetect,
    "encdec": EncDec,
    "resnet18": resnet18,
}

INPUT_SHAPES = {
    "simplecnn": (3, 32, 32),
    "graycnn": (1, 32, 32),
    "net": (3, 32, 32),
    "cnnmodel": (1, 8, 32),
    "edgedetect": (1, 64, 64),
    "encdec": (3, 32, 32),
    "resnet18": (3, 224, 224),
}
