"""Limits checked before a model is read: file kind and size, zip members, circuit size, depth.

Every loader reads its file through :func:`read_model_file` (a regular file, opened without
blocking, read up to a per-format byte cap) and zip archives through :func:`read_zip` (members
checked by their declared and their real size). :func:`check_circuit` bounds the size and the
depth of the circuit a loader returns. Limits travel in a frozen :class:`ModelLimits`; each one
can be raised, e.g. ``load_model(path, max_bytes=2**30)`` or
``load_model(path, limits=ModelLimits(max_neurons=10**6))``.

>>> ModelLimits().byte_cap('.onnx') == MAX_BYTES['.onnx']
True
>>> ModelLimits(max_bytes=10).byte_cap('.json')
10
"""

from __future__ import annotations

import dataclasses
import io
import os
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

from symbolic.errors import ModelFormatError

MiB = 1 << 20
#: default size cap of a model file, per suffix (``max_bytes`` overrides it for every format)
MAX_BYTES = {
    ".json": 64 * MiB,
    ".onnx": 64 * MiB,
    ".pt": 64 * MiB,
    ".pth": 64 * MiB,
    ".pt2": 64 * MiB,
}
MAX_INPUTS = 65_536  # input values of the network (a 3x224x224 image has 150,528)
MAX_NEURONS = 100_000  # assignments in the circuit (ReLU, sigmoid and linear)
MAX_WEIGHTS = 2_000_000  # weights: elements of all constant tensors, terms of all assignments
MAX_DEPTH = 1_000  # longest chain of assignments from an input to an output
MAX_NODES = 100_000  # operations in an ONNX or torch.export graph
MAX_MEMBERS = 10_000  # members of a zip archive (.pt, .pt2)
MAX_CENTRAL = 4 * MiB  # bytes of a zip archive's central directory (parsed before any member)


@dataclasses.dataclass(frozen=True)
class ModelLimits:
    """Caps applied while a model file is read; ``None`` for ``max_bytes`` means ``MAX_BYTES``.

    ``max_bytes`` bounds the file and, for zip archives (.pt, .pt2), the total uncompressed
    size of the members. The other caps bound what is allocated from the file's declarations.
    """

    max_bytes: int | None = None
    max_inputs: int = MAX_INPUTS
    max_neurons: int = MAX_NEURONS
    max_weights: int = MAX_WEIGHTS
    max_depth: int = MAX_DEPTH
    max_nodes: int = MAX_NODES

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None and field.name == "max_bytes":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelFormatError(f"model limit {field.name} must be a positive integer, "
                                       f"got {value!r}")

    def byte_cap(self, suffix: str) -> int:
        """The size cap for a file with this suffix."""
        return self.max_bytes if self.max_bytes is not None else MAX_BYTES.get(suffix, 64 * MiB)

    @property
    def work(self) -> int:
        """Budget of exact operations an importer may spend folding tensors (10 x max_weights)."""
        return 10 * self.max_weights


def limits_or_default(limits: ModelLimits | None, max_bytes: int | None = None) -> ModelLimits:
    """``limits`` (default :class:`ModelLimits`) with ``max_bytes`` replaced when given."""
    limits = limits or ModelLimits()
    return limits if max_bytes is None else dataclasses.replace(limits, max_bytes=max_bytes)


def too_big(what: str, count: int, cap: int, option: str) -> ModelFormatError:
    """The one-line error for a size over a cap, naming the limit that raises it.

    >>> print(too_big('net.onnx: input x has', 10**9, 65536, 'max_inputs'))
    net.onnx: input x has 1,000,000,000, over the limit max_inputs=65,536
    """
    return ModelFormatError(f"{what} {count:,}, over the limit {option}={cap:,}")


def read_model_file(path: str | os.PathLike, limits: ModelLimits | None = None) -> bytes:
    """The bytes of the regular file ``path``, refused at once if it is anything else or too big.

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor, so a
    FIFO, a device such as ``/dev/zero``, a socket or a directory is refused without blocking
    (and without a race between the check and the read).
    """
    limits = limits or ModelLimits()
    cap = limits.byte_cap(Path(path).suffix.lower())
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ModelFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ModelFormatError(f"cannot read {path}: {_kind(info.st_mode)}, not a regular file")
        if info.st_size > cap:
            raise too_big(f"{path}: file size (bytes) is", info.st_size, cap, "max_bytes")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:  # the file grew while we read it
                raise too_big(f"{path}: file size (bytes) is at least", total, cap, "max_bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise ModelFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "a special file")


def read_zip(
    data: bytes, where: str, limits: ModelLimits | None = None,
    wanted: Callable[[str], bool] | None = None,
) -> dict[str, bytes]:
    """The members of the zip archive ``data`` (those whose name ``wanted`` accepts), in order.

    Before anything is decompressed, the number of members and the sum of their declared
    uncompressed sizes are checked against the caps; each member read is then bounded by its
    declared size (Python's ``zipfile`` stops there and checks the CRC), so a member that
    decompresses to more than it declares is refused instead of filling memory.
    """
    limits = limits or ModelLimits()
    cap = limits.byte_cap(Path(where).suffix.lower())
    count, size = _central_directory(data)
    if count > MAX_MEMBERS:
        raise too_big(f"{where}: declared archive members:", count, MAX_MEMBERS, "MAX_MEMBERS")
    if size > MAX_CENTRAL:
        raise too_big(f"{where}: central directory size (bytes) is", size, MAX_CENTRAL,
                      "MAX_CENTRAL")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError,
            struct.error) as exc:
        raise ModelFormatError(f"cannot read {where}: not a zip archive, truncated or corrupt "
                               f"({exc})") from None
    if len(infos) > MAX_MEMBERS:
        raise too_big(f"{where}: archive members:", len(infos), MAX_MEMBERS, "MAX_MEMBERS")
    declared = sum(info.file_size for info in infos)
    if declared > cap:
        raise too_big(f"{where}: declared uncompressed size of the archive (bytes) is", declared,
                      cap, "max_bytes")
    out: dict[str, bytes] = {}
    for info in infos:
        if wanted is not None and not wanted(info.filename):
            continue
        if info.filename in out:
            raise ModelFormatError(f"cannot read {where}: member {info.filename} appears twice")
        if info.flag_bits & 0x1:
            raise ModelFormatError(f"cannot read {where}: member {info.filename} is encrypted")
        try:
            with archive.open(info) as member:
                content = member.read(info.file_size + 1)
        except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError, EOFError,
                RuntimeError, struct.error) as exc:
            raise ModelFormatError(f"cannot read {where}: member {info.filename} is corrupt "
                                   f"({exc})") from None
        if len(content) != info.file_size:
            raise ModelFormatError(f"cannot read {where}: member {info.filename} holds "
                                   f"{len(content):,} bytes but declares {info.file_size:,}")
        out[info.filename] = content
    return out


def _central_directory(data: bytes) -> tuple[int, int]:
    """The member count and central-directory size an archive declares (the larger of the
    classic and the zip64 end records, read where Python's zipfile reads them)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - (1 << 16) - 22))
    if end < 0 or end + 22 > len(data):
        return 0, 0
    count, size = struct.unpack_from("<HL", data, end + 10)
    locator = end - 20
    if locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        (offset,) = struct.unpack_from("<Q", data, locator + 8)
        for where in {locator - 56, offset}:
            if 0 <= where <= len(data) - 56 and data[where : where + 4] == b"PK\x06\x06":
                count64, size64 = struct.unpack_from("<QQ", data, where + 32)
                count, size = max(count, count64), max(size, size64)
    return count, size


def chain_depth(circuit) -> int:
    """The longest chain of assignments from an input to any name (computed without recursion)."""
    depth: dict[str, int] = dict.fromkeys(circuit.inputs, 0)
    best = 0
    for a in circuit.assignments:
        d = 1 + max((depth.get(s, 0) for s in a.sources), default=0)
        depth[a.name] = d
        best = max(best, d)
    return best


def check_circuit(circuit, where: str, limits: ModelLimits | None = None) -> None:
    """Refuse a circuit over the caps: inputs, assignments, weights (terms) or depth."""
    limits = limits or ModelLimits()
    if len(circuit.inputs) > limits.max_inputs:
        raise too_big(f"{where}: inputs:", len(circuit.inputs), limits.max_inputs, "max_inputs")
    if len(circuit.assignments) > limits.max_neurons:
        raise too_big(f"{where}: neurons (assignments):", len(circuit.assignments),
                      limits.max_neurons, "max_neurons")
    terms = sum(len(a.terms) for a in circuit.assignments)
    if terms > limits.max_weights:
        raise too_big(f"{where}: weights:", terms, limits.max_weights, "max_weights")
    depth = chain_depth(circuit)
    if depth > limits.max_depth:
        raise too_big(f"{where}: depth (longest chain of assignments):", depth,
                      limits.max_depth, "max_depth")
