"""Save and load PyTorch state_dicts as zoo checkpoint format v1 (HDF5).

    import zoo_h5
    zoo_h5.save(model, "model.h5", arch="simplecnn", example_input=torch.randn(1, 3, 32, 32))
    model.load_state_dict(zoo_h5.load("model.h5"), strict=True)
    zoo_h5.from_torch_file("model.pt", "model.h5")

Install with `pip install ./Tools/python` (add `[torch]` for the torch helpers).

The h5py-only functions (`save_arrays`, `load_arrays`, `sha256_of`, `read_manifest`) need no
torch; `save`, `load` and `model_config` import torch when called. The format is documented in
Sources/Checkpoint/Checkpoint.docc/CheckpointFormat.md.
"""
import hashlib
import json

import h5py
import numpy as np

FORMAT = "zoo-checkpoint"
FORMAT_VERSION = 1
PRODUCER = "zoo_h5"


def _c_order(array):
    """C-ordered without promoting 0-d arrays to 1-d, as np.ascontiguousarray would."""
    array = np.asarray(array)
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def sha256_of(array):
    """SHA-256 over little-endian row-major bytes in the stored dtype, as the manifest records."""
    array = _c_order(array)
    return hashlib.sha256(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()).hexdigest()


def _bfloat16_bits(array_float32):
    bits = np.ascontiguousarray(array_float32, dtype=np.float32).view(np.uint32)
    nan = np.isnan(array_float32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(nan, ((bits >> 16) | 0x40).astype(np.uint16), rounded)


def save_arrays(path, arrays, manifest=None, tests=None, bfloat16_keys=(), eval_set=None):
    """Writes `arrays` (key -> numpy array, in order) as canonical v1.

    `manifest`: extra manifest fields (arch, arch_args, model_config, preprocess, classes,
    metrics, ...); format fields and per-tensor records are filled in. `tests`: list of
    (input, output) arrays or dicts with input, output, atol, rtol. Keys in `bfloat16_keys` hold
    uint16 bfloat16 bit patterns. `eval_set`: (inputs, labels, predictions) arrays, written as
    the `__eval__` group.
    """
    manifest = dict(manifest or {})
    manifest["format"] = FORMAT
    manifest["format_version"] = FORMAT_VERSION
    manifest.setdefault("producer", PRODUCER)
    records = {}
    with h5py.File(path, "w", track_order=True) as f:
        for key, array in arrays.items():
            if key.startswith("__") and key.endswith("__"):
                raise ValueError(f"key {key!r} is reserved for metadata")
            array = _c_order(array)
            dataset = f.create_dataset(key, data=array)
            dtype = "bfloat16" if key in bfloat16_keys else array.dtype.name
            if key in bfloat16_keys:
                dataset.attrs["dtype"] = "bfloat16"
            records[key] = {"dtype": dtype, "shape": list(array.shape), "sha256": sha256_of(array)}
        manifest["tensors"] = records
        f.create_dataset("__manifest__", data=json.dumps(manifest, sort_keys=True))
        if tests:
            group = f.create_group("__tests__", track_order=True)
            for index, case in enumerate(tests):
                if not isinstance(case, dict):
                    case = {"input": case[0], "output": case[1]}
                group.create_dataset(f"input_{index}", data=_c_order(case["input"]))
                output = group.create_dataset(f"output_{index}", data=_c_order(case["output"]))
                for tolerance in ("atol", "rtol"):
                    if case.get(tolerance) is not None:
                        output.attrs[tolerance] = float(case[tolerance])
        if eval_set is not None:
            inputs, labels, predictions = eval_set
            group = f.create_group("__eval__", track_order=True)
            group.create_dataset("inputs", data=_c_order(np.asarray(inputs, dtype=np.float32)))
            group.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
            group.create_dataset("predictions", data=np.asarray(predictions, dtype=np.int64))


def read_manifest(path):
    """The `__manifest__` JSON as a dict, or None for a plain export."""
    with h5py.File(path, "r") as f:
        if "__manifest__" not in f:
            return None
        raw = f["__manifest__"][()]
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def load_arrays(path, verify=True):
    """Key -> numpy array for every weight (bfloat16 widened to float32), checking manifest checksums."""
    manifest = read_manifest(path) or {}
    records = manifest.get("tensors", {})
    arrays = {}
    with h5py.File(path, "r") as f:
        for key, dataset in f.items():
            if key.startswith("__") and key.endswith("__"):
                continue
            array = dataset[()]
            if verify and key in records and records[key].get("sha256") not in (None, sha256_of(array)):
                raise ValueError(f"{path}: checksum mismatch for {key}: the values changed after export")
            marker = dataset.attrs.get("dtype", "")
            marker = marker.decode() if isinstance(marker, bytes) else marker
            if marker == "bfloat16":
                array = (np.asarray(array).view(np.uint16).astype(np.uint32) << 16).view(np.float32)
            arrays[key] = array
    return arrays


# --- torch helpers -------------------------------------------------------------------------

_CONFIG_ARGS = {
    "Conv2d": ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias", "padding_mode"],
    "ConvTranspose2d": ["in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "groups", "bias", "dilation"],
    "MaxPool2d": ["kernel_size", "stride", "padding", "dilation", "ceil_mode"],
    "AvgPool2d": ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"],
    "AdaptiveAvgPool2d": ["output_size"],
    "AdaptiveMaxPool2d": ["output_size"],
    "BatchNorm2d": ["num_features", "eps", "momentum", "affine", "track_running_stats"],
    "Linear": ["in_features", "out_features", "bias"],
    "Flatten": ["start_dim", "end_dim"],
    "ReLU": [],
    "LeakyReLU": ["negative_slope"],
    "Sigmoid": [],
    "Tanh": [],
    "Softplus": ["beta", "threshold"],
    "Dropout": ["p"],
    "Identity": [],
    "Upsample": ["size", "scale_factor", "mode", "align_corners"],
}


def _plain(value):
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def model_config(model):
    """The format's model_config for an nn.Sequential of supported layers, else None."""
    import torch.nn as nn

    if not isinstance(model, nn.Sequential):
        return None
    layers = []
    for name, module in model.named_children():
        kind = type(module).__name__
        if kind not in _CONFIG_ARGS:
            return None
        entry = {"type": kind}
        if any(True for _ in module.state_dict()):
            entry["name"] = name
        for arg in _CONFIG_ARGS[kind]:
            value = getattr(module, arg)
            if arg == "bias" and kind in ("Conv2d", "ConvTranspose2d", "Linear"):
                value = module.bias is not None
            entry[arg] = _plain(value)
        layers.append(entry)
    return {"layers": layers}


def save(model, path, arch=None, arch_args=None, example_input=None, atol=None, rtol=None, preprocess=None, classes=None,
         eval_set=None, metrics=None, export_program=None):
    """Writes `model.state_dict()` as canonical v1, with model_config for nn.Sequential models and
    a reference input/output pair (computed in eval mode) when `example_input` is given.

    With `example_input`, the model's torch.export program is recorded too (`export_program`
    defaults to True then): exported in eval mode with a dynamic batch size, node stack traces
    dropped, stored as the manifest's `torch_export_program`, so that zoo runs any model saved
    this way with no Swift code and `zoo verify` proves its forward pass against the reference
    pair PyTorch computed. A model torch.export cannot trace is saved without a program (a
    warning says why).

    `preprocess`: torchvision transforms as [{"type": class name, **kwargs}] that turn a picture
    into the model's input; `classes`: label strings by output index; `eval_set=(x, y)`: held-out
    inputs (already preprocessed) and labels, stored with PyTorch's predictions as `__eval__`,
    their accuracy in `metrics`."""
    import torch

    arrays, bf16 = _arrays_of(model.state_dict())
    manifest = {}
    if arch:
        manifest["arch"] = arch
        manifest["arch_args"] = arch_args or {}
    config = model_config(model)
    if config is not None:
        manifest["model_config"] = config
    manifest["producer"] = f"{PRODUCER} (torch {torch.__version__})"
    if preprocess is not None:
        manifest["preprocess"] = preprocess
    if classes is not None:
        manifest["classes"] = [str(c) for c in classes]
    manifest_metrics = dict(metrics or {})
    evaluation = None
    if eval_set is not None:
        x, y = eval_set
        was_training = model.training
        model.eval()
        with torch.no_grad():
            predictions = torch.cat([model(x[i:i + 64]).argmax(1) for i in range(0, len(x), 64)])
        model.train(was_training)
        labels = torch.as_tensor(y).long()
        manifest_metrics["accuracy"] = float((predictions == labels).double().mean())
        manifest_metrics["eval_set"] = "__eval__"
        evaluation = (x.detach().cpu().numpy(), labels.numpy(), predictions.numpy())
    if manifest_metrics:
        manifest["metrics"] = manifest_metrics
    tests = None
    if example_input is not None:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            output = model(example_input)
        model.train(was_training)
        tests = [{"input": example_input.detach().cpu().numpy(), "output": output.detach().cpu().numpy(), "atol": atol, "rtol": rtol}]
        if export_program is None or export_program:
            program = exported_program(model, example_input)
            if program is not None:
                manifest["torch_export_program"] = program
    save_arrays(path, arrays, manifest=manifest, tests=tests, bfloat16_keys=bf16, eval_set=evaluation)


def exported_program(model, example_input):
    """The ExportedProgram JSON of `model` (eval mode, batch size dynamic) as torch.export.save
    writes it in `models/model.json`, stack traces dropped; None with a warning when it cannot be
    exported."""
    import warnings

    import torch

    was_training = model.training
    model.eval()
    try:
        dims = {0: torch.export.Dim.AUTO}
        return program_document(torch.export.export(model, (example_input,), dynamic_shapes=(dims,)))
    except Exception as error:  # torch.export's failures are many kinds; the save goes on without a program
        warnings.warn(f"zoo_h5.save: no torch.export program recorded ({type(error).__name__}: {error})")
        return None
    finally:
        model.train(was_training)


def program_document(program, keep_metadata=None):
    """An ExportedProgram's JSON as torch.export.save writes it in `models/model.json`, each
    node's metadata cut to the keys in `keep_metadata` (None: all of them); stack traces, which
    name the exporting machine's files, are never kept."""
    import io
    import zipfile

    import torch

    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    with zipfile.ZipFile(buffer) as archive:
        member = next(name for name in archive.namelist() if "/models/" in "/" + name and name.endswith(".json"))
        document = json.loads(archive.read(member))
    for node in document["graph_module"]["graph"]["nodes"]:
        node["metadata"] = {key: value for key, value in node.get("metadata", {}).items()
                            if key != "stack_trace" and (keep_metadata is None or key in keep_metadata)}
    return document


def _arrays_of(state_dict):
    """Key -> numpy array for a state_dict of tensors, bfloat16 kept as its uint16 bit patterns."""
    import torch

    arrays, bf16 = {}, set()
    for key, tensor in state_dict.items():
        tensor = tensor.detach().cpu().contiguous()
        if tensor.dtype == torch.bfloat16:
            arrays[key] = tensor.view(torch.int16).numpy().view(np.uint16)
            bf16.add(key)
        else:
            arrays[key] = tensor.numpy()
    return arrays, bf16


WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net")


def _find_state_dict(obj):
    """The state_dict inside what torch.load returned: the dict itself, or the one under a
    training script's wrapper key, with a DataParallel 'module.' prefix stripped."""
    import torch

    def is_state_dict(value):
        return isinstance(value, dict) and value and all(isinstance(v, torch.Tensor) for v in value.values())

    if is_state_dict(obj):
        state = obj
    else:
        found = [obj[k] for k in WRAPPER_KEYS if isinstance(obj, dict) and is_state_dict(obj.get(k))]
        if not found:
            raise ValueError("no state_dict found: save model.state_dict(), or a dict holding it under 'state_dict'")
        state = found[0]
    keys = list(state)
    if keys and all(k.startswith("module.") and len(k) > len("module.") for k in keys):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def from_torch_file(source, destination, arch=None, arch_args=None):
    """Converts a torch.save file (read with `torch.load(weights_only=True)`, so nothing in it
    runs) to a zoo checkpoint: the state_dict, unwrapped and without a 'module.' prefix, with a
    manifest and checksums. The same as `zoo convert SOURCE DESTINATION`, for users of Python."""
    import torch

    state = _find_state_dict(torch.load(source, map_location="cpu", weights_only=True))
    arrays, bf16 = _arrays_of(state)
    manifest = {"producer": f"{PRODUCER}.from_torch_file (torch {torch.__version__})"}
    if arch:
        manifest["arch"] = arch
        manifest["arch_args"] = arch_args or {}
    save_arrays(destination, arrays, manifest=manifest, bfloat16_keys=bf16)


def load(path):
    """A state_dict of torch tensors (bfloat16 restored) for `model.load_state_dict(..., strict=True)`."""
    import torch

    state = {}
    with h5py.File(path, "r") as f:
        markers = {k: f[k].attrs.get("dtype", "") for k in f if not (k.startswith("__") and k.endswith("__"))}
    for key, array in load_arrays(path).items():
        marker = markers[key].decode() if isinstance(markers[key], bytes) else markers[key]
        tensor = torch.as_tensor(_c_order(array))
        state[key] = tensor.to(torch.bfloat16) if marker == "bfloat16" else tensor
    return state


# --- signatures ----------------------------------------------------------------------------

def _describe(array, dtype_name=None):
    array = _c_order(np.asarray(array))
    name = dtype_name or array.dtype.name
    shape = "[" + ",".join(str(d) for d in array.shape) + "]"
    return f"{name} {shape} {sha256_of(array)}"


def _tolerance_bits(value):
    import struct
    return "-" if value is None else struct.pack(">d", float(value)).hex()


def _contents(path):
    """(manifest text, {key: (array, dtype name)}, [(name, input, output, atol, rtol)], eval or None, signature text)
    from an HDF5 or safetensors checkpoint, as stored."""
    import base64
    import struct
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"\x89HDF"):
        tensors, tests, evaluation = {}, [], None
        with h5py.File(path, "r") as f:
            text = f["__manifest__"][()]
            manifest = text.decode() if isinstance(text, bytes) else text
            signature = f["__signature__"][()] if "__signature__" in f else None
            signature = signature.decode() if isinstance(signature, bytes) else signature

            def visit(name, item):
                if isinstance(item, h5py.Dataset) and not any(p.startswith("__") and p.endswith("__") for p in name.split("/")):
                    marker = item.attrs.get("dtype", "")
                    marker = marker.decode() if isinstance(marker, bytes) else marker
                    tensors[name.replace("/", ".")] = (item[()], "bfloat16" if marker == "bfloat16" else None)
            f.visititems(visit)
            if "__tests__" in f:
                group = f["__tests__"]
                indices = sorted(int(k[len("input_"):]) for k in group if k.startswith("input_"))
                for i in indices:
                    output = group[f"output_{i}"]
                    atol = output.attrs.get("atol", group.attrs.get("atol"))
                    rtol = output.attrs.get("rtol", group.attrs.get("rtol"))
                    tests.append((str(i), group[f"input_{i}"][()], output[()], atol, rtol))
            if "__eval__" in f:
                evaluation = tuple(f["__eval__"][k][()] for k in ("inputs", "labels", "predictions"))
        return manifest, tensors, tests, evaluation, signature
    with open(path, "rb") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    names = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "uint16", "I64": "int64", "I32": "int32",
             "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}
    tensors = {}
    for key, record in header.items():
        begin, end = record["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=np.dtype(names[record["dtype"]]).newbyteorder("<")).reshape(record["shape"])
        tensors[key] = (array, "bfloat16" if record["dtype"] == "BF16" else None)

    def decode(value):
        array = np.frombuffer(base64.b64decode(value["data"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
        return array.reshape(value["shape"])
    tests = [(case["name"], decode(case["input"]), decode(case["output"]), case.get("atol"), case.get("rtol"))
             for case in json.loads(metadata.get("zoo_tests", "[]"))]
    evaluation = None
    if "zoo_eval" in metadata:
        value = json.loads(metadata["zoo_eval"])
        evaluation = (decode(value["inputs"]), np.array(value["labels"], np.int64), np.array(value["predictions"], np.int64))
    return metadata["zoo_manifest"], tensors, tests, evaluation, metadata.get("zoo_signature")


def signed_payload(path):
    """The text a zoo signature covers, computed from the file as it is now (see the format page)."""
    import hashlib
    manifest, tensors, tests, evaluation, _ = _contents(path)
    lines = ["zoo-signature-v1", "manifest " + hashlib.sha256(manifest.encode("utf-8")).hexdigest()]
    for key in sorted(tensors, key=lambda k: k.encode("utf-8")):
        array, dtype_name = tensors[key]
        lines.append(f"tensor {_describe(array, dtype_name)} {key}")
    for name, x, y, atol, rtol in tests:
        lines.append(f"test {name}/input {_describe(x)}")
        lines.append(f"test {name}/output {_describe(y)} atol={_tolerance_bits(atol)} rtol={_tolerance_bits(rtol)}")
    if evaluation is not None:
        for name, array in zip(("inputs", "labels", "predictions"), evaluation):
            lines.append(f"eval {name} {_describe(np.asarray(array, np.float32 if name == 'inputs' else np.int64))}")
    return "\n".join(lines) + "\n"


def verify_signature(path, public_key_path):
    """True when the checkpoint is signed by the key in `public_key_path` (zoo keygen's NAME.pub)
    and nothing the signature covers has changed since; False otherwise. Needs `cryptography`."""
    import base64
    import hashlib
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    with open(public_key_path) as f:
        trusted = base64.b64decode(f.read().strip())
    signature_text = _contents(path)[4]
    if signature_text is None:
        return False
    record = json.loads(signature_text)
    if record.get("algorithm") != "ed25519" or base64.b64decode(record["public_key"]) != trusted:
        return False
    payload = signed_payload(path)
    if payload != record["payload"] or hashlib.sha256(payload.encode("utf-8")).hexdigest() != record["payload_sha256"]:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(trusted).verify(base64.b64decode(record["signature"]), payload.encode("utf-8"))
    except InvalidSignature:
        return False
    return True


# --- training state ------------------------------------------------------------------------

TRAINING_KEY = "__training__"
_OPTIMIZER_KINDS = {"SGD": "sgd", "Adam": "adam", "AdamW": "adamw"}


def _array_from_json(value):
    import base64
    array = np.frombuffer(base64.b64decode(value["data"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
    return array.reshape(value["shape"]).astype(np.dtype(value["dtype"]))


def _array_to_json(array):
    import base64
    array = _c_order(np.asarray(array))
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {"dtype": array.dtype.name, "shape": list(array.shape), "data": base64.b64encode(little.tobytes()).decode("ascii")}


def read_training(path):
    """The training state `zoo train` stored in a checkpoint (the JSON object the format page
    describes), or None when the file holds none."""
    import struct
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        with h5py.File(path, "r") as f:
            if TRAINING_KEY not in f:
                return None
            text = f[TRAINING_KEY][()]
            return json.loads(text.decode() if isinstance(text, bytes) else text)
    with open(path, "rb") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        metadata = json.loads(f.read(length)).get("__metadata__", {})
    return json.loads(metadata[TRAINING_KEY]) if TRAINING_KEY in metadata else None


def load_training(path):
    """(state_dict, optimizer_state_dict, training) from a checkpoint `zoo train` wrote:
    `model.load_state_dict(state_dict, strict=True)`, then
    `torch.optim.Adam(model.parameters()).load_state_dict(optimizer_state_dict)` (the class named
    by `training["optimizer_class"]`) continues the run; `training` is the whole state (epoch,
    step, generator, history), its `scheduler` the `state_dict()` of the scheduler named by
    `training["scheduler_class"]` (None without one): `StepLR(optimizer, step_size=1)`, then
    `.load_state_dict(training["scheduler"])`. Reads .h5 and .safetensors files."""
    import torch

    training = read_training(path)
    if training is None:
        raise ValueError(f"{path} holds no training state (it was not written by zoo train)")
    if path.lower().endswith(".safetensors"):
        from safetensors.torch import load_file
        state = load_file(path)
    else:
        state = load(path)
    saved = training["optimizer"]
    optimizer_state = {
        "state": {int(index): {name: torch.from_numpy(_array_from_json(value).copy()) for name, value in entry.items()}
                  for index, entry in saved["state"].items()},
        "param_groups": [{**group, **({"betas": tuple(group["betas"])} if "betas" in group else {})}
                         for group in saved["param_groups"]],
    }
    return state, optimizer_state, training


def save_training(model, optimizer, path, epoch=0, step=0, global_step=0, loss="cross-entropy", batch_size=32, shuffle=True,
                  seed=0, history=(), scheduler=None, **save_arguments):
    """Writes `model` (as `save` does, `save_arguments` passed on: arch, arch_args,
    example_input, ...) with `optimizer`'s state, so that `zoo train PATH --resume` continues
    the run: after `epoch` completed epochs and `step` batches of the next, with zoo's generator
    seeded by `seed` at that point. SGD, Adam and AdamW, one param group; `scheduler`, when
    given, a StepLR or CosineAnnealingLR stepped once per epoch, which zoo steps on."""
    import torch

    kind = _OPTIMIZER_KINDS.get(type(optimizer).__name__)
    if kind is None:
        raise ValueError(f"zoo train continues SGD, Adam and AdamW, not {type(optimizer).__name__}")
    if len(optimizer.param_groups) != 1:
        raise ValueError("zoo train continues optimizers with one param group")
    scheduler_class = type(scheduler).__name__ if scheduler is not None else None
    if scheduler_class not in (None, "StepLR", "CosineAnnealingLR"):
        raise ValueError(f"zoo train continues StepLR and CosineAnnealingLR, not {scheduler_class}")
    save(model, path, **save_arguments)
    saved = optimizer.state_dict()
    group = {k: (list(v) if isinstance(v, tuple) else v) for k, v in saved["param_groups"][0].items()}
    group = {k: (v.item() if isinstance(v, torch.Tensor) else v) for k, v in group.items()}
    training = {
        "format": "zoo-training", "format_version": 1,
        "optimizer": {
            "state": {str(index): {name: _array_to_json(value.detach().cpu().numpy()) for name, value in entry.items()
                                   if isinstance(value, torch.Tensor)}
                      for index, entry in saved["state"].items()},
            "param_groups": [group],
        },
        "optimizer_class": type(optimizer).__name__, "optimizer_kind": kind, "loss": loss,
        "parameters": [name for name, _ in model.named_parameters()],
        "epoch": epoch, "step": step, "global_step": global_step, "batch_size": batch_size, "shuffle": shuffle,
        "scheduler": {k: _plain(v) for k, v in scheduler.state_dict().items()} if scheduler is not None else None,
        "scheduler_class": scheduler_class,
        "generator": {"algorithm": "splitmix64", "seed": str(seed), "state": str(seed), "epoch_state": str(seed)},
        "running": {"loss_sum": 0.0, "correct": 0.0, "seen": 0.0},
        "history": list(history),
    }
    with h5py.File(path, "a") as f:
        f.create_dataset(TRAINING_KEY, data=json.dumps(training), dtype=h5py.string_dtype("utf-8"))
