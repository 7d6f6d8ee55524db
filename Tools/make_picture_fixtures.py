"""Pictures and what PIL and torchvision make of them: Tests/PicturesTests/Fixtures.

Run with the torch venv: .venv-torch/bin/python Tools/make_picture_fixtures.py
Writes small PNG and JPEG files of every mode zoo reads (and damaged ones), then expected.h5:
per picture, PIL's convert("L") and convert("RGB") arrays; per (picture, pipeline) case, the
tensor torchvision's transforms give, with the pipeline as the manifest's preprocess JSON.

And resized.h5, which zoo must equal sample for sample: PIL's `Image.resize` with the bilinear
and bicubic filters (up, down, by non-integer scales, on 1-3 pixel pictures, on hard edges where
bicubic overshoots, in both of Pillow 13's pass orders, 8-bit and I;16); and bicubic torchvision
pipelines, efficientnet_b0's weights' own transforms among them, their tensors written losslessly
as the 8-bit picture before ToTensor (`pipelines/<picture>:<pipeline>`) plus, per channel, the
value torchvision gives each of the 256 levels (`...:table`): a 3x224x224 float tensor would be
600 KB; the generator checks that the two rebuild it bit for bit.
"""
import io
import json
import os
import struct
import zlib

import h5py
import numpy as np
import PIL
from PIL import Image
from torchvision import transforms
from torchvision.models import get_model_weights

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
        if "interpolation" in args:
            args["interpolation"] = transforms.InterpolationMode(args["interpolation"])
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
    write_resized(path)


FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}

# (picture, (width, height)) as PIL sizes go. Pillow 13 resamples vertically first when the height
# loses more than twice as many rows as the width loses columns (python-pillow/Pillow#9549); the
# cases marked V take that order.
RESIZES = [
    ("rgb_portrait.png", (20, 16)),  # V: a 4-level difference with bicubic when done horizontally first
    ("rgb_portrait.png", (16, 20)),  # V
    ("rgb_portrait.png", (40, 40)),  # V, the width grows
    ("rgb_portrait.png", (29, 52)),  # up by 1.26 and 1.27
    ("rgb_landscape.png", (13, 29)),
    ("rgb_landscape.png", (100, 7)),  # V
    ("rgb_landscape.png", (7, 3)),
    ("grey.png", (45, 61)),
    ("grey.png", (9, 5)),
    ("edges.png", (31, 23)),  # up: overshoot past 0 and 255 at every edge
    ("edges.png", (24, 20)),  # exactly twice
    ("edges.png", (5, 4)),
    ("edges.png", (11, 3)),  # V
    ("edges_rgb.png", (27, 20)),
    ("edges_rgb.png", (4, 7)),
    ("tiny_1x1.png", (3, 2)),
    ("tiny_2x3.png", (1, 1)),
    ("tiny_2x3.png", (7, 9)),
    ("tiny_3x1.png", (2, 5)),
    ("tiny_3x1.png", (1, 1)),
    ("grey16.png", (20, 30)),
    ("grey16.png", (50, 9)),  # V
]

IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
BICUBIC_PIPELINES = {
    # efficientnet_b0's DEFAULT weights' transforms, as make_torchvision_programs.py records them.
    "efficientnet_b0": [{"type": "Resize", "size": [256], "interpolation": "bicubic"}, {"type": "CenterCrop", "size": [224]},
                        {"type": "ToTensor"}, {"type": "Normalize", **IMAGENET}],
    "bicubic_shorter_side_crop": [{"type": "Resize", "size": 24, "interpolation": "bicubic"}, {"type": "CenterCrop", "size": 21},
                                  {"type": "ToTensor"}],
    "bicubic_down": [{"type": "Resize", "size": [16, 20], "interpolation": "bicubic"}, {"type": "ToTensor"}],
}
PIPELINE_PICTURES = ["rgb_landscape.png", "rgb_portrait.png", "grey.png"]
FULL_SIZE = {"efficientnet_b0": "rgb_portrait.png"}  # 224x224x3 levels are 80 KB: one picture


def edges(width, height):
    """Black and white squares crossed by one-pixel lines: every sample sits on a hard edge."""
    y, x = np.mgrid[0:height, 0:width]
    grey = np.where(((x // 3) + (y // 3)) % 2 == 0, 0, 255)
    grey[:, width // 2] = 255 - grey[:, width // 2]
    grey[height // 3, :] = 0
    return grey.astype(np.uint8)


def pipeline_encoding(steps, image):
    """torchvision's tensor for `image` as (levels, table): the 8-bit CHW picture the steps make
    before ToTensor, and per channel torchvision's value for each of the 256 levels; asserted to
    give torchvision's tensor back bit for bit."""
    cut = next(i for i, step in enumerate(steps) if step["type"] == "ToTensor")
    tensor = torchvision_pipeline(steps)(image).float().numpy()
    picture = torchvision_pipeline(steps[:cut])(image)
    levels = np.array(picture).reshape(picture.size[1], picture.size[0], -1).transpose(2, 0, 1)
    ramp = np.arange(256, dtype=np.uint8).reshape(1, 256)
    ramp = Image.fromarray(ramp) if picture.mode == "L" else Image.fromarray(np.stack([ramp] * 3, axis=-1))
    table = torchvision_pipeline(steps[cut:])(ramp).float().numpy().reshape(levels.shape[0], 256)
    rebuilt = np.stack([table[c][levels[c]] for c in range(levels.shape[0])])
    assert rebuilt.shape == tensor.shape and np.array_equal(rebuilt.view(np.uint32), tensor.view(np.uint32)), steps
    return levels.astype(np.uint8), table.astype(np.float32)


def small_dataset(group, name, data, **attributes):
    """A dataset compressed only when that saves more than its chunk index costs (~2 KB), with
    fixed-length string attributes (kept in the object header, not a 4 KB global heap)."""
    options = {"compression": "gzip", "compression_opts": 9} if data.nbytes > 4096 else {}
    dataset = group.create_dataset(name, data=data, **options)
    for key, value in attributes.items():
        dataset.attrs[key] = np.bytes_(value)
    return dataset


def write_resized(path):
    Image.fromarray(edges(12, 10)).save(path("edges.png"))
    rgb = np.stack([edges(9, 13), 255 - edges(9, 13), np.full((13, 9), 128, np.uint8)], axis=-1)
    rgb[4, :, 2] = 255
    Image.fromarray(rgb).save(path("edges_rgb.png"))
    Image.fromarray(np.array([[[200, 30, 90]]], np.uint8)).save(path("tiny_1x1.png"))
    Image.fromarray(np.array([[0, 255], [255, 0], [40, 220]], np.uint8)).save(path("tiny_2x3.png"))
    Image.fromarray(np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)).save(path("tiny_3x1.png"))
    with h5py.File(path("resized.h5"), "w") as f:
        # The pass order (and so some samples) changed in Pillow 13; say which one this is.
        f.attrs["pillow_version"] = np.bytes_(PIL.__version__)
        resized = f.create_group("resized")
        for picture, (width, height) in RESIZES:
            image = Image.open(path(picture))
            for name, resample in FILTERS.items():
                array = np.array(image.resize((width, height), resample))
                # I;16 as int32: zoo's tensors have no unsigned 16-bit dtype.
                array = array.astype(np.int32) if image.mode == "I;16" else array.astype(np.uint8)
                small_dataset(resized, f"{picture}:{name}:{width}x{height}", array, picture=picture, interpolation=name)
        pipelines = f.create_group("pipelines")
        weights = get_model_weights("efficientnet_b0").DEFAULT.transforms()
        for picture in PIPELINE_PICTURES:
            image = Image.open(path(picture))
            for pipeline, steps in BICUBIC_PIPELINES.items():
                if FULL_SIZE.get(pipeline, picture) != picture:
                    continue
                levels, table = pipeline_encoding(steps, image)
                if pipeline == "efficientnet_b0" and image.mode == "RGB":  # the weights' own transforms agree
                    ours = torchvision_pipeline(steps)(image)
                    assert np.array_equal(weights(image).numpy().view(np.uint32), ours.numpy().view(np.uint32))
                small_dataset(pipelines, f"{picture}:{pipeline}", levels, picture=picture, preprocess=json.dumps(steps))
                small_dataset(pipelines, f"{picture}:{pipeline}:table", table)


if __name__ == "__main__":
    main()
