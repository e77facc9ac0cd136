"""Argument types for the command line: a bad value is one line naming the option and the value.

Each function here is an ``argparse`` ``type=``: it runs while the command line is parsed, before
any work starts, and raises :class:`argparse.ArgumentTypeError`, which argparse turns into
``argument --timeout: ...`` (exit 2). The limits are module constants, quoted in the messages.

>>> seconds("2.5")
2.5
>>> seconds("0")
Traceback (most recent call last):
argparse.ArgumentTypeError: expected seconds in [0.001, 1000000], got '0'
>>> integer(1, MAX_SEEDS)("100001")
Traceback (most recent call last):
argparse.ArgumentTypeError: expected an integer in [1, 100000], got '100001'
>>> scheduler_address("127.0.0.1:8786")
'tcp://127.0.0.1:8786'
"""

from __future__ import annotations

import argparse
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

#: ``--timeout``: at least 1 ms (z3 counts whole milliseconds) and at most 10^6 s (z3's
#: millisecond timeout is a 32-bit integer; 10^6 s is 11.6 days).
MIN_TIMEOUT_S, MAX_TIMEOUT_S = 0.001, 1_000_000
#: ``census --seeds``: seeds per run.
MAX_SEEDS = 100_000
#: ``--seed``, ``census --first``: torch.manual_seed takes a 64-bit seed; recipes take [0, 2**63).
MAX_SEED = 2**63 - 1
#: ``--steps`` (train, census): batches or epochs; the longest shipped recipe uses 10,000.
MAX_STEPS = 1_000_000
#: ``--workers``: local processes, at most 4 per core.
MAX_WORKERS = 4 * (os.cpu_count() or 1)
#: ``--max-model-bytes``: the largest size cap a user may set (64 GiB).
MAX_MODEL_BYTES = 64 * 2**30
#: ``--scheduler``: Dask comm protocols that can reach another process.
SCHEMES = ("tcp", "tls", "ws", "wss")
#: ``--format`` of ``report``.
REPORT_FORMATS = ("html", "md", "json")

#: Exit codes of every command (``equiv`` and ``vnnlib`` use the same numbers).
EXIT_PROVED, EXIT_REFUTED, EXIT_BAD_INPUT, EXIT_UNKNOWN, EXIT_INTERNAL = 0, 1, 2, 3, 4

_EXIT_TEXT = {
    EXIT_PROVED: "proved: the claim holds",
    EXIT_REFUTED: "refuted: the claim is violated (a counterexample, replayed exactly)",
    EXIT_BAD_INPUT: "bad input: one line on stderr says which",
    EXIT_UNKNOWN: "unknown: the budget ran out or no method decided (the reason is printed)",
    EXIT_INTERNAL: "internal error: a bug, please report it",
}


def exit_codes(meaning: dict[int, str] | None = None) -> str:
    """The ``exit codes:`` block of a help text; ``meaning`` replaces what some codes say.

    >>> print(exit_codes({EXIT_UNKNOWN: "no rounding within the tolerance"}))
    exit codes:
      0  proved: the claim holds
      1  refuted: the claim is violated (a counterexample, replayed exactly)
      2  bad input: one line on stderr says which
      3  no rounding within the tolerance
      4  internal error: a bug, please report it
    """
    meaning = {**_EXIT_TEXT, **(meaning or {})}
    return "\n".join(["exit codes:", *(f"  {code}  {meaning[code]}" for code in _EXIT_TEXT)])


_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)$")
_BYTES = re.compile(r"^\s*([0-9](?:_?[0-9]){0,19})\s*(?:([KMGT])(?:i?B)?|B)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def _bad(message: str, text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{message}, got {_quote(text)}")


def _path(text: str) -> str:
    """A path as typed when it is printable and short, else quoted (control characters escaped)."""
    return text if text.isprintable() and len(text) <= 200 and text.strip() == text else _quote(text)


def _quote(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= 200 else shown[:197] + "...'"


# -- numbers --------------------------------------------------------------------------------------
def seconds(text: str) -> float:
    """A timeout in seconds: finite, in [MIN_TIMEOUT_S, MAX_TIMEOUT_S].

    >>> seconds("1e-3"), seconds("60")
    (0.001, 60.0)
    """
    try:
        value = float(text)
    except ValueError:
        raise _bad(f"expected seconds in [{MIN_TIMEOUT_S:g}, {MAX_TIMEOUT_S}]", text) from None
    if not (math.isfinite(value) and MIN_TIMEOUT_S <= value <= MAX_TIMEOUT_S):
        raise _bad(f"expected seconds in [{MIN_TIMEOUT_S:g}, {MAX_TIMEOUT_S}]", text)
    return value


def exact_number(text: str) -> Fraction:
    """An exact finite number (``2``, ``-0.5``, ``1e-3``, ``1/1000``), parsed by the whitelist parser.

    >>> exact_number("-1/3")
    Fraction(-1, 3)
    """
    from proofs.text_to_expr import parse_number
    from symbolic import errors

    try:
        return Fraction(parse_number(text))
    except errors.MathCircuitsError:
        raise _bad("expected an exact number such as 2, -0.5, 1e-3 or 1/1000", text) from None


def non_negative_number(text: str) -> Fraction:
    """An exact number >= 0 (a tolerance).

    >>> non_negative_number("1/100")
    Fraction(1, 100)
    """
    value = exact_number(text)
    if value < 0:
        raise _bad("expected a number >= 0", text)
    return value


def integer(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for a decimal integer in ``[low, high]``.

    >>> integer(0, 10)("7")
    7
    """

    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*[+-]?[0-9]{1,30}\s*", text):
            raise _bad(f"expected an integer in [{low}, {high}]", text)
        value = int(text)
        if not low <= value <= high:
            raise _bad(f"expected an integer in [{low}, {high}]", text)
        return value

    return parse


def workers(text: str) -> int:
    """Local worker processes: 1 to 4 per core (``MAX_WORKERS``)."""
    try:
        return integer(1, MAX_WORKERS)(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (at most 4 per core, {os.cpu_count() or 1} cores)") from None


def byte_size(text: str) -> int:
    """A size in bytes: ``50000000``, ``64M``, ``1GiB`` (K, M, G, T are powers of 1024), at least 1
    and at most ``MAX_MODEL_BYTES``.

    >>> byte_size("64M"), byte_size("1_000")
    (67108864, 1000)
    """
    match = _BYTES.match(text)
    if not match:
        raise _bad("expected a size in bytes such as 50000000, 64M or 1G", text)
    unit = match.group(2).lower() if match.group(2) else None
    value = int(match.group(1)) * _UNITS[unit]
    if not 1 <= value <= MAX_MODEL_BYTES:
        raise _bad(f"expected a size from 1 byte to {MAX_MODEL_BYTES // 2**30}G", text)
    return value


# -- addresses ------------------------------------------------------------------------------------
def scheduler_address(text: str) -> str:
    """A Dask scheduler address ``[tcp|tls|ws|wss://]host:port``, normalised with its scheme.

    Parsed before anything connects: an unknown scheme, a malformed host or a port that is not
    1..65535 is an error.

    >>> scheduler_address("tls://[::1]:8786")
    'tls://[::1]:8786'
    """
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        scheme, rest = "tcp", text.strip()
    if scheme.lower() not in SCHEMES:
        raise _bad(f"unknown scheme {scheme!r} (expected one of {', '.join(SCHEMES)})", text)
    host, colon, port = rest.rpartition(":")
    if not colon or not _HOST.match(host):
        raise _bad("expected a scheduler address such as tcp://host:8786", text)
    if not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535:
        raise _bad("the port must be an integer in [1, 65535]", text)
    return f"{scheme.lower()}://{host}:{int(port)}"


# -- paths ----------------------------------------------------------------------------------------
def model_file(text: str) -> str:
    """An existing regular file (symbolic links followed): not a folder, FIFO or device.

    >>> model_file("/no/such/model.onnx")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: no such file: /no/such/model.onnx
    """
    if not text:
        raise _bad("expected a model file", text)
    try:
        mode = os.stat(text).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise argparse.ArgumentTypeError(f"no such file: {_path(text)}") from None
    except OSError as exc:
        raise _bad(f"cannot read the model file ({exc.strerror})", text) from None
    if not stat.S_ISREG(mode):
        raise _bad(f"the model must be a regular file, not {_kind(mode)}", text)
    return text


def output_file(text: str) -> Path:
    """A file to write: not empty, not a folder or device, in an existing folder that accepts a new
    file (checked by creating and deleting a temporary file there, so it holds for root and for
    read-only mounts too)."""
    if not text:
        raise _bad("expected a file name", text)
    path = Path(text)
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except OSError as exc:
        raise _bad(f"cannot use this path ({exc.strerror})", text) from None
    if mode is not None and not stat.S_ISREG(mode):
        raise _bad(f"expected a file, found {_kind(mode)}", text)
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise _bad(f"folder {str(folder)!r} {problem}", text)
    _probe(folder, text)
    if mode is not None:
        try:
            with open(path, "ab"):
                pass
        except OSError as exc:
            raise _bad(f"cannot write this file ({exc.strerror})", text) from None
    return path


def report_folder(text: str) -> Path:
    """A folder for a report: not empty, a folder or a path that can be created as one (its nearest
    existing ancestor must be a folder that accepts a new file)."""
    if not text:
        raise _bad("cannot write the report: expected a folder name", text)
    path = Path(text)
    existing = path
    while True:
        try:
            mode = os.stat(existing).st_mode
            break
        except (FileNotFoundError, NotADirectoryError):
            if existing.parent == existing:
                raise _bad("cannot write the report: no existing folder on this path", text) from None
            existing = existing.parent
        except OSError as exc:
            raise _bad(f"cannot write the report there ({exc.strerror})", text) from None
    if not stat.S_ISDIR(mode):
        found = _kind(mode) if existing == path else f"{str(existing)!r}, which is {_kind(mode)}"
        raise _bad(f"cannot write the report: expected a folder, found {found}", text)
    _probe(existing, text)
    return path


def report_formats(text: str) -> tuple[str, ...]:
    """A comma-separated, non-empty subset of html, md, json.

    >>> report_formats("md, json")
    ('md', 'json')
    """
    formats = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    if not formats or not set(formats) <= set(REPORT_FORMATS):
        raise _bad(f"expected a comma-separated list of {', '.join(REPORT_FORMATS)}", text)
    return formats


def _probe(folder: Path, text: str) -> None:
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".mathcircuits-write-test-")
    except OSError as exc:
        raise _bad(f"cannot write in folder {str(folder)!r} ({exc.strerror})", text) from None
    os.close(handle)
    os.unlink(name)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a file")):
        if test(mode):
            return name
    return "not a regular file"
