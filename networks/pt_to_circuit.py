"""Read a ``.pt``/``.pth`` state dict with ``torch.load(weights_only=True)``, from checked bytes.

The file must be a regular file within the size cap and a zip archive (``torch.save``'s format
since torch 1.6). Its members are checked by declared and real size
(:func:`networks.model_limits.read_zip`) and torch reads an archive rebuilt in memory from exactly
those members, so it never sees a member we did not check. Legacy (non-zip) pickle files are
refused unread. Every tensor must be a dense CPU tensor within the element cap before it is
converted. Keys ``0.weight, 0.bias, 2.weight, ...`` describe a Sequential of Linear layers (a gap
in the indices is a ReLU); with ``architecture`` the weights fill a copy of that module.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import re
import warnings
import zipfile
from collections.abc import Mapping, Sequence

from networks.model_limits import ModelLimits, read_model_file, read_zip, too_big
from networks.torch_to_circuit import check_tensor, exact_tensor, from_module, layers_circuit
from symbolic.circuit import Activation, Circuit
from symbolic.errors import ModelFormatError

_KEY = re.compile(r"^((?:.*\.)?)(\d+)\.(weight|bias)$")


@contextlib.contextmanager
def quiet_torch():
    """No warnings and no logged tracebacks from torch while it reads a file (errors are ours)."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def load_pt(
    path: str | os.PathLike, architecture=None, input_names: Sequence[str] | None = None,
    limits: ModelLimits | None = None,
) -> Circuit:
    """A circuit from a ``.pt``/``.pth`` state dict, loaded with ``torch.load(weights_only=True)``.

    Without ``architecture`` the keys ``0.weight, 0.bias, 2.weight, ...`` describe a Sequential of
    Linear layers (a gap in the indices is a ReLU); with it (an ``nn.Module``), the weights are
    loaded strictly into a copy of it and imported with :func:`from_module`. The file must be a
    regular file within the size cap and a zip archive (torch.save's format since torch 1.6); its
    members are checked by declared and real size and torch reads an archive rebuilt from them.
    Legacy (non-zip) pickle files are refused unread.
    """
    import pickle

    limits = limits or ModelLimits()
    data = read_model_file(path, limits)
    if not data.startswith(b"PK\x03\x04"):
        if data[:1] == b"\x80" or data[:2] in (b"(d", b"}q", b"cc"):
            raise ModelFormatError(
                f"refusing to load {path}: a legacy (non-zip) pickle file, not torch.save's zip "
                "format; it is never unpickled - re-save it with torch.save(model.state_dict(), "
                "path) (torch >= 1.6)"
            )
        raise ModelFormatError(f"cannot read {path}: truncated or corrupt (not a zip archive)")
    members = read_zip(data, str(path), limits)
    if any(name.endswith("/constants.pkl") or "/code/" in name for name in members):
        raise ModelFormatError(
            f"refusing to load {path}: a TorchScript archive (torch.jit.save), not a state dict; "
            "save model.state_dict() with torch.save, or export the model to ONNX"
        )
    clean = io.BytesIO()
    with zipfile.ZipFile(clean, "w", zipfile.ZIP_STORED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    clean.seek(0)
    import torch

    try:
        with quiet_torch():
            state = torch.load(clean, weights_only=True, map_location="cpu", mmap=False)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise ModelFormatError(f"cannot read {path}: corrupt file ({str(exc)[:120]})") from None
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        why = f"it references {found.group(1)}" if found else "not a torch.save weights file"
        raise ModelFormatError(
            f"refusing to load {path}: not a plain weights file ({why}); torch.load with "
            "weights_only=True refuses pickled code and whole nn.Module objects - save "
            "model.state_dict() instead"
        ) from None
    except Exception as exc:  # noqa: BLE001 - RuntimeError, EOFError, zip errors ...
        detail = " ".join(str(exc).split()).split(". ")[0][:160] or type(exc).__name__
        raise ModelFormatError(f"cannot read {path}: truncated or corrupt ({detail})") from None
    if isinstance(state, Mapping):
        for key in ("state_dict", "model_state_dict"):
            state = state[key] if isinstance(state.get(key), Mapping) else state
    if not isinstance(state, Mapping) or not state:
        raise ModelFormatError(f"{path} does not hold a non-empty state_dict (mapping of tensors)")
    total = 0
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            kind = type(value).__name__
            raise ModelFormatError(f"{path}: entry {key!r} is a {kind}, not a tensor")
        check_tensor(value, f"{path}: {key}")
        total += value.numel()
        if total > limits.max_weights:
            raise too_big(f"{path}: tensor elements:", total, limits.max_weights, "max_weights")
    if architecture is None:
        return layers_circuit(_infer_layers(state, str(path)), input_names)
    module = copy.deepcopy(architecture)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise ModelFormatError(f"{path}: weights do not fit the architecture: {detail}") from None
    return from_module(module, input_names)


def _infer_layers(state: Mapping, where: str) -> list:
    groups: dict[int, dict[str, object]] = {}
    prefixes = set()
    for key, value in state.items():
        match = _KEY.match(key)
        if not match:
            raise ModelFormatError(
                f"{where}: cannot infer the architecture from key {key!r} (expected 0.weight, "
                "0.bias, 2.weight, ...); pass architecture="
            )
        prefixes.add(match.group(1))
        groups.setdefault(int(match.group(2)), {})[match.group(3)] = value
    if len(prefixes) > 1:
        raise ModelFormatError(f"{where}: keys have different prefixes {sorted(prefixes)}")
    prefix, layers, previous = prefixes.pop(), [], None
    for index in sorted(groups):
        group, name = groups[index], f"{prefix}{index}"
        weight, bias = group.get("weight"), group.get("bias")
        if weight is None or weight.dim() != 2:
            raise ModelFormatError(f"{where}: layer {name} needs a 2-D weight, has {sorted(group)}")
        out, width = weight.shape
        if layers and width != len(layers[-1][0]):
            raise ModelFormatError(
                f"{where}: shape mismatch: {name}.weight has shape [{out}, {width}] but the "
                f"previous layer outputs {len(layers[-1][0])} values"
            )
        if bias is not None and tuple(bias.shape) != (out,):
            shape = list(bias.shape)
            raise ModelFormatError(f"{where}: {name}.bias has shape {shape}, not [{out}]")
        if previous is not None and index - previous > 1:
            layers[-1][2] = Activation.RELU  # a gap in the indices: an activation module
        w = exact_tensor(weight, f"{where}: {name}.weight").tolist()
        b = None if bias is None else exact_tensor(bias, f"{where}: {name}.bias").tolist()
        layers.append([w, b, Activation.LINEAR])
        previous = index
    return layers
