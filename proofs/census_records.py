"""The census's results file: one JSON record per finished seed, validated on resume, SIGKILL-safe."""

from __future__ import annotations

import json
import os
from pathlib import Path

from symbolic import errors

VERDICTS = ("proved", "refuted", "unknown", "error")
#: Version of the record layout: 2 since the census runs :func:`proofs.check.check_model`
#: (``verdict`` is the trained network's, ``rounded_verdict`` its rounding's, ``network`` the
#: exact trained weights).
FORMAT = 2
#: A record is a few kilobytes; a longer line is not one (and is not read into memory whole).
MAX_LINE_BYTES = 1 << 20
_RESTART_HINT = "fix or delete the file, or pass --restart to begin a new one"


def read_results(path: Path, recipe_name: str, steps: int | None = None) -> dict[int, dict]:
    """Seeds already done in ``path``, a file of census records of ``recipe_name`` (run with
    ``steps``; ``None`` is the recipe's own number).

    Every complete line must be such a record, otherwise a :class:`~symbolic.errors.ParseError`
    names the first bad line and nothing is changed. A torn last line (no newline: the process was
    killed while writing it) is then cut off, so that seed runs again; nothing is lost or counted
    twice.
    """
    if not path.exists():
        return {}
    if not path.is_file():
        raise errors.ParseError(f"{path} is not a regular file, so it cannot hold census records")
    done: dict[int, dict] = {}
    keep = number = 0
    with open(path, "rb") as handle:
        while line := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            if not line.endswith(b"\n"):
                if len(line) > MAX_LINE_BYTES:
                    raise _bad_line(path, number, f"a line of more than {MAX_LINE_BYTES} bytes")
                _torn(line, recipe_name, steps, path, number)
                break  # torn by a kill: cut below
            record = _record(line, recipe_name, steps, path, number)
            done.setdefault(record["seed"], record)
            keep += len(line)
    if keep < path.stat().st_size:
        with open(path, "r+b") as handle:
            handle.truncate(keep)
    return done


def _torn(line: bytes, recipe_name: str, steps: int | None, path: Path, number: int) -> None:
    """Accept a last line without a newline only if a kill could have left it: the start of a
    record as :func:`append_result` writes it (ASCII JSON, keys sorted), or a whole record."""
    if not (line.startswith(b'{"') and line.isascii()):
        raise _bad_line(path, number, "the last line is neither a record nor one torn by a kill")
    try:
        json.loads(line)
    except ValueError:
        return  # cut short while being written
    _record(line, recipe_name, steps, path, number)  # complete: it must be a valid record too


def _record(line: bytes, recipe_name: str, steps: int | None, path: Path, number: int) -> dict:
    """One validated record (the checks :func:`summary` relies on)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad_line(path, number, "not UTF-8 text") from None
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _bad_line(path, number, f"not JSON ({getattr(exc, 'msg', type(exc).__name__)})") from None
    if not isinstance(record, dict):
        raise _bad_line(path, number, f"a JSON {type(record).__name__}, not an object")
    if record.get("recipe") != recipe_name:
        found = "no recipe" if "recipe" not in record else f"recipe {_show(record['recipe'])}"
        raise _bad_line(path, number, f"{found}, not {recipe_name!r}")
    seed = record.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise _bad_line(path, number, "no seed" if "seed" not in record else
                        f"seed {_show(seed)} is not an integer in [0, 2**63)")
    verdict = record.get("verdict")
    if verdict not in VERDICTS:
        raise _bad_line(path, number, "no verdict" if "verdict" not in record else
                        f"verdict {_show(verdict)} is not one of {', '.join(VERDICTS)}")
    if record.get("format") != FORMAT:
        raise _bad_line(path, number, f"format {_show(record.get('format'))}, not {FORMAT} (written by an "
                        "older census, whose verdict was the rounding's)")
    wanted = {"error": str} if verdict == "error" else {"canonical": str, "network": dict,
                                                        "rounded_verdict": str}
    optional = {"closed_form": str, "relu_form": str, "error": str, "features": list,
                "final_loss": (int, float, type(None)), "extraction": dict,
                "max_error": (str, type(None))}
    for key, kind in {**optional, **wanted}.items():
        if (key in wanted or key in record) and not isinstance(record.get(key), kind):
            raise _bad_line(path, number, f"{key} {_show(record.get(key))} is missing or malformed")
    if not all(isinstance(f, str) for f in record.get("features", ())):
        raise _bad_line(path, number, "features must be strings")
    if verdict != "error" and record["rounded_verdict"] not in VERDICTS:
        raise _bad_line(path, number, f"rounded_verdict {_show(record['rounded_verdict'])} is not one of "
                        f"{', '.join(VERDICTS)}")
    if record.get("steps") != steps:
        raise _bad_line(path, number, f"it was run with steps {_show(record.get('steps'))}, "
                        f"this run asks for {_show(steps)} (None: the recipe's own)")
    return record


def _bad_line(path: Path, number: int, why: str) -> errors.ParseError:
    return errors.ParseError(f"{path}:{number} is not a census record: {why}; {_RESTART_HINT}")


def _show(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def append_result(path: Path, record: dict) -> None:
    """Append one record as one line and force it to disk before the next seed is counted (a full
    disk is one clear error; what was appended before stays valid, a torn tail is cut on resume)."""
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise errors.MathCircuitsError(f"cannot append the record of seed {record.get('seed')} to {path}: "
                                       f"{exc.strerror or exc}") from None
