"""Run a VNN-COMP instance list (``onnx,vnnlib,timeout_s`` rows): one process per instance, one JSON
line per instance (resumable like the census), then a summary table by property.

Each instance is decided in a forked child process with an address-space cap of
``MEMORY_BYTES``; the parent stops it by force when it overruns its timeout by a quarter plus
``GRACE_S`` (recorded as ``unknown``/``timeout``). Networks and properties are read once by the
parent and shared with the children. A crash or a bad file is an ``error`` record, not a lost run.
"""

from __future__ import annotations

import argparse
import collections
import csv
import dataclasses
import io
import json
import multiprocessing
import multiprocessing.connection
import stat
import time
from pathlib import Path

from symbolic import errors

GRACE_S = 10.0
MEMORY_BYTES = 8 * 2**30
MAX_ROWS = 100_000
MAX_LINE_BYTES = 1 << 22
VERDICTS = ("holds", "violated", "unknown", "error")


@dataclasses.dataclass(frozen=True)
class Instance:
    """One row of the list, paths as written (relative to the CSV's folder)."""

    onnx: str
    vnnlib: str
    timeout_s: float
    line: int

    @property
    def key(self) -> tuple[str, str]:
        return self.onnx, self.vnnlib


def read_instances(path: Path) -> list[Instance]:
    """The rows of an instance list; ParseError naming the first bad line (missing file, bad timeout)."""
    try:
        info = Path(path).stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ROWS * 4096:
            raise errors.ParseError(f"the instance list {path} is not a regular file of at most {MAX_ROWS * 4096} bytes")
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.ParseError(f"cannot read the instance list {path}: {getattr(exc, 'strerror', None) or exc}") from None
    folder, out = Path(path).parent, []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if number > MAX_ROWS:
            raise errors.ParseError(f"{path}: more than {MAX_ROWS} rows")
        if len(row) != 3:
            raise errors.ParseError(f"{path}:{number}: expected onnx,vnnlib,timeout_s, got {len(row)} field(s)")
        onnx, vnnlib, timeout = (cell.strip() for cell in row)
        try:
            seconds = float(timeout)
        except ValueError:
            raise errors.ParseError(f"{path}:{number}: timeout {timeout!r} is not a number") from None
        if not 0 < seconds <= 1e6:
            raise errors.ParseError(f"{path}:{number}: timeout {timeout} is not in (0, 1e6] seconds")
        for name in (onnx, vnnlib):
            if not (folder / name).is_file():
                raise errors.ParseError(f"{path}:{number}: {folder / name} is not a file")
        out.append(Instance(onnx, vnnlib, seconds, number))
    if not out:
        raise errors.ParseError(f"{path}: no instances")
    return out


def read_done(path: Path) -> dict[tuple[str, str], dict]:
    """Records already in ``path``; a torn last line (killed while writing) is cut off."""
    if not path.exists():
        return {}
    done, keep, number = {}, 0, 0
    with open(path, "rb") as handle:
        while line := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            if not line.endswith(b"\n"):
                if len(line) > MAX_LINE_BYTES or not line.startswith(b"{"):
                    raise errors.ParseError(f"{path}:{number}: not an instance record (fix or delete it, or --restart)")
                break
            try:
                record = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                record = None
            ok = isinstance(record, dict) and record.get("verdict") in VERDICTS and \
                all(isinstance(record.get(k), str) for k in ("onnx", "vnnlib"))
            if not ok:
                raise errors.ParseError(f"{path}:{number}: not an instance record (fix or delete it, or --restart)")
            done.setdefault((record["onnx"], record["vnnlib"]), record)
            keep += len(line)
    if keep < path.stat().st_size:
        with open(path, "r+b") as handle:
            handle.truncate(keep)
    return done


def _child(conn, circuit, spec, timeout_s: float) -> None:
    """Decide in the child; send back the record's verdict fields."""
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    except (ValueError, OSError):
        pass
    try:
        from proofs.cli_vnnlib import decide_property

        found = decide_property(circuit, spec, timeout_s).to_json()
        found.pop("boxes")
    except errors.ReplayError as exc:
        found = {"verdict": "error", "error": f"internal error (a bug): {exc}"}
    except errors.MathCircuitsError as exc:
        found = {"verdict": "error", "error": str(exc)}
    except MemoryError:
        found = {"verdict": "error", "error": f"out of memory (cap {MEMORY_BYTES} bytes)"}
    except Exception as exc:  # noqa: BLE001 - a crashed instance is a record, not a lost run
        found = {"verdict": "error", "error": f"{type(exc).__name__}: {exc}"}
    conn.send(found)
    conn.close()


class _Loader:
    """Networks and properties read once, errors remembered."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.cache = folder, {}

    def get(self, name: str, kind: str):
        if (name, kind) not in self.cache:
            from proofs.cli_vnnlib import load_network
            from proofs.vnnlib_to_spec import load_vnnlib

            try:
                value = load_network(str(self.folder / name)) if kind == "onnx" else load_vnnlib(self.folder / name)
            except errors.MathCircuitsError as exc:
                value = exc
            self.cache[name, kind] = value
        return self.cache[name, kind]


def run_instances(args: argparse.Namespace) -> int:
    """The ``--instances`` run: append a record per pending instance to ``--out``, print the summary."""
    from proofs.census import append_result
    from proofs.progress import Progress

    csv_path = Path(args.instances)
    instances = list({i.key: i for i in read_instances(csv_path)}.values())
    out = args.out
    if out is not None and args.restart:
        out.write_text("")
    done = read_done(out) if out is not None else {}
    pending = [i for i in instances if i.key not in done]
    loader = _Loader(csv_path.parent)
    progress = Progress(len(pending), "instances", enabled=not args.json)
    records = dict(done)
    context = multiprocessing.get_context("fork")
    queue, active = list(pending), {}
    while queue or active:
        while queue and len(active) < args.workers:
            instance = queue.pop(0)
            start = time.perf_counter()
            network, spec = loader.get(instance.onnx, "onnx"), loader.get(instance.vnnlib, "vnnlib")
            timeout = args.timeout or instance.timeout_s
            base = {"onnx": instance.onnx, "vnnlib": instance.vnnlib, "timeout_s": timeout,
                    "load_s": round(time.perf_counter() - start, 3)}
            problem = next((x for x in (network, spec) if isinstance(x, errors.MathCircuitsError)), None)
            if problem is not None:
                _finish(records, out, progress, {**base, "verdict": "error", "error": str(problem)}, append_result)
                continue
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(send, network, spec, timeout), daemon=True)
            process.start()
            send.close()
            active[receive] = (process, base, time.perf_counter(), timeout * 1.25 + GRACE_S)
        ready = multiprocessing.connection.wait(list(active), timeout=0.2)
        now = time.perf_counter()
        for conn in list(active):
            process, base, started, limit = active[conn]
            if conn in ready:
                try:
                    found = conn.recv()
                except (EOFError, OSError):
                    found = {"verdict": "error", "error": f"the process ended without an answer (exit {process.exitcode})"}
            elif now - started > limit:
                process.kill()
                found = {"verdict": "unknown", "result": "timeout", "method": "none", "elapsed_s": round(now - started, 3),
                         "reason": f"stopped by force after {now - started:.0f} s (timeout {base['timeout_s']:g} s)"}
            else:
                continue
            process.join(5)
            conn.close()
            del active[conn]
            _finish(records, out, progress, {**base, **found, "wall_s": round(now - started, 3)}, append_result)
    table = summary([records[i.key] for i in instances])
    print(json.dumps(table, indent=2) if args.json else format_table(table))
    return 0


def _finish(records, out, progress, record: dict, append) -> None:
    record.setdefault("result", "error" if record["verdict"] == "error" else "unknown")
    records[record["onnx"], record["vnnlib"]] = record
    if out is not None:
        append(out, record)
    progress.step(f"{Path(record['onnx']).stem} {Path(record['vnnlib']).stem}: {record['verdict']}")


def summary(records: list[dict]) -> dict:
    """Counts by verdict and time (the decision time, summed), per property and in total."""
    groups: dict[str, list[dict]] = collections.defaultdict(list)
    for r in records:
        groups[r["vnnlib"]].append(r)
    def row(rs):
        counts = {v: sum(r["verdict"] == v for r in rs) for v in VERDICTS}
        return {"instances": len(rs), **counts, "time_s": round(sum(r.get("elapsed_s", 0) or 0 for r in rs), 3)}
    return {"properties": {name: row(rs) for name, rs in sorted(groups.items())}, "total": row(records)}


def format_table(data: dict) -> str:
    """The summary as a text table."""
    rows = [*data["properties"].items(), ("total", data["total"])]
    width = max(len(name) for name, _ in rows)
    head = f"{'property':{width}s} {'instances':>9s} " + " ".join(f"{v:>8s}" for v in VERDICTS) + f" {'time (s)':>10s}"
    lines = [head, "-" * len(head)]
    for name, r in rows:
        lines.append(f"{name:{width}s} {r['instances']:9d} " + " ".join(f"{r[v]:8d}" for v in VERDICTS)
                     + f" {r['time_s']:10.1f}")
    return "\n".join(lines)
