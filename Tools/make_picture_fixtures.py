"""Pictures and what PIL and torchvision make of them: Tests/PicturesTests/Fixtures.

Run with the torch venv: .venv-torch/bin/python Tools/make_picture_fixtures.py
Writes small PNG and JPEG files of every mode zoo reads (and damaged ones), then expected.h5:
per picture, PIL's convert("L") and convert("RGB") arrays; per (picture, pipeline) case, the
tensor torchvision's transforms give, with the pipeline as the manifest's preprocess JSON.
"""
import io
import json
import os
import struct
import zlib

import h5py
import numpy as np
from PIL import Image
from torchvision import transforms

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "PicturesTests", "Fixtures")


def photo(width, height, seed):
    """A small synthetic photograph: gradients, a disc, a bar and noise, in RGB."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 255 * x / max(width - 1, 1)
    g = 255 * y / max(height - 1, 1)
    b = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 4.0)
    disc = (x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (min(width, height) * 0.25) ** 2
    r[disc], g[disc], b[disc] = 250, 40, 30
    bar = (np.abs(x - width * 0.25) < max(1, width // 12))
    r[bar], g[bar], b[bar] = 10, 10, 200
    image = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def raw_png(width, height, depth, color, rows):
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


PIPELINES = {
    "grey": [{"type": "Grayscale", "num_output_channels": 1}, {"type": "ToTensor"}],
    "rgb_down": [{"type": "Resize", "size": [16, 20]}, {"type": "ToTensor"}],
    "shorter_side_crop": [{"type": "Resize", "size": 24}, {"type": "CenterCrop", "size": 21}, {"type": "ToTensor"}],
    "grey3_up_normalize": [{"type": "Grayscale", "num_output_channels": 3}, {"type": "Resize", "size": [61, 45]}, {"type": "ToTensor"},
                           {"type": "Normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}],
    "raw_values": [{"type": "Grayscale", "num_output_channels": 1}, {"type": "PILToTensor"}],
    "crop_bigger_than_picture": [{"type": "CenterCrop", "size": [50, 9]}, {"type": "ToTensor"}],
    "digits_32": [{"type": "Grayscale", "num_output_channels": 1}, {"type": "Resize", "size": [32, 32]}, {"type": "ToTensor"}],
}


def torchvision_pipeline(steps):
    made = []
    for step in steps:
        args = {k: v for k, v in step.items() if k != "type"}
        if step["type"] == "Resize":
            args["size"] = args["size"] if isinstance(args["size"], int) else tuple(args["size"])
        if step["type"] == "CenterCrop":
            args["size"] = args["size"] if isinstance(args["size"], int) else tuple(args["size"])
        made.append(getattr(transforms, step["type"])(**args))
    return transforms.Compose(made)


def main():
    os.makedirs(OUT, exist_ok=True)
    path = lambda name: os.path.join(OUT, name)
    pictures = {}
    landscape = photo(37, 23, 1)
    portrait = photo(23, 41, 2)
    Image.fromarray(landscape).save(path("rgb_landscape.png"))
    Image.fromarray(portrait).save(path("rgb_portrait.png"))
    Image.fromarray(landscape).convert("L").save(path("grey.png"))
    rgba = Image.fromarray(portrait).convert("RGBA")
    rgba.putalpha(Image.fromarray((np.arange(23 * 41) % 256).reshape(41, 23).astype(np.uint8)))
    rgba.save(path("rgba.png"))
    Image.fromarray(landscape).convert("LA").save(path("grey_alpha.png"))
    palette = Image.fromarray(landscape).convert("P", palette=Image.ADAPTIVE, colors=16)
    palette.save(path("palette.png"))
    palette.save(path("palette_transparent.png"), transparency=3)
    Image.fromarray(landscape).convert("1").save(path("one_bit.png"))
    Image.fromarray((np.arange(37 * 23).reshape(23, 37) * 71 % 65536).astype(np.uint16)).save(path("grey16.png"))
    rows = b"".join(b"\x00" + b"".join(struct.pack(">HHH", 257 * int(p[0]), 256 * int(p[1]) + 255, 65535 - 257 * int(p[2]))
                                        for p in row) for row in landscape)
    open(path("rgb16.png"), "wb").write(raw_png(37, 23, 16, 2, rows))
    Image.fromarray(landscape).save(path("baseline.jpg"), quality=90)
    Image.fromarray(portrait).save(path("progressive.jpg"), quality=85, progressive=True)
    Image.fromarray(landscape).convert("L").save(path("grey.jpg"), quality=90)
    readable = ["rgb_landscape.png", "rgb_portrait.png", "grey.png", "rgba.png", "grey_alpha.png", "palette.png",
                "palette_transparent.png", "one_bit.png", "grey16.png", "rgb16.png", "baseline.jpg", "progressive.jpg", "grey.jpg"]

    # Pictures zoo must refuse with one line.
    Image.fromarray(landscape).convert("CMYK").save(path("bad_cmyk.jpg"))
    whole = open(path("baseline.jpg"), "rb").read()
    open(path("bad_truncated.jpg"), "wb").write(whole[: len(whole) // 2])
    whole = open(path("rgb_landscape.png"), "rb").read()
    open(path("bad_truncated.png"), "wb").write(whole[: len(whole) // 2])
    open(path("bad_not_a_picture.png"), "wb").write(b"hello, this is text\n" * 10)
    open(path("bad_zero_width.png"), "wb").write(raw_png(0, 5, 8, 0, b""))
    open(path("bad_absurd_size.png"), "wb").write(raw_png(200000, 200000, 8, 0, b"\x00" * 10))
    open(path("bad_empty.png"), "wb").write(b"")
    refused = {"bad_cmyk.jpg": "CMYK", "bad_truncated.jpg": "JPEG", "bad_truncated.png": "PNG", "bad_not_a_picture.png": "not a picture",
               "bad_zero_width.png": "zero", "bad_absurd_size.png": "PNG", "bad_empty.png": "empty"}

    with h5py.File(path("expected.h5"), "w") as f:
        f.attrs["refused"] = json.dumps(refused)
        decoded = f.create_group("decoded")
        for name in readable:
            image = Image.open(path(name))
            group = decoded.create_group(name)
            group.attrs["mode"] = image.mode
            group.create_dataset("L", data=np.array(image.convert("L")))
            group.create_dataset("RGB", data=np.array(image.convert("RGB")))
        cases = f.create_group("cases")
        for picture in ["rgb_landscape.png", "rgb_portrait.png", "grey.png", "baseline.jpg", "progressive.jpg"]:
            for pipeline, steps in PIPELINES.items():
                tensor = torchvision_pipeline(steps)(Image.open(path(picture)))
                tensor = tensor.float().numpy()
                case = cases.create_dataset(f"{picture}:{pipeline}", data=tensor)
                case.attrs["picture"] = picture
                case.attrs["preprocess"] = json.dumps(steps)


if __name__ == "__main__":
    main()
