"""The ACAS Xu group: every instance of ``instances.csv``, each tool in its own process, resumable JSON lines.

``python -m bench --group acasxu [--instances PATTERN] [--timeout S] [--json FILE] [--solvers ...]``
runs, per instance (one process at a time):

* mathcircuits through its public front end, ``python -m proofs.cli vnnlib NET PROP --timeout S
  --json --result FILE`` (plus ``--certificate FILE`` when the command offers it); the verdict and
  the counterexample are read from the competition result file, the solve time from the JSON; a
  certificate is then checked in a second process (:mod:`bench.acasxu_worker` ``certificate``);
* Marabou: :mod:`bench.acasxu_worker` ``marabou`` (its own ONNX and VNN-LIB readers).

The runner measures each whole process. Every counterexample is replayed exactly by
:mod:`bench.onnx_exact` and :mod:`bench.vnnlib_exact` (independent of the toolkit) and the outcome
is stored with the answer. Each finished job is appended as one JSON line (flushed and synced);
a run that is interrupted continues where it stopped, skipping every (instance, solver, timeout)
already in the file.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from bench.cases import REPO

DEFAULT_CSV = REPO.parent / "shared" / "vnncomp" / "acasxu" / "instances.csv"
DEFAULT_RESULTS = REPO / "bench" / "results" / "acasxu.jsonl"
TOOLS = ("mathcircuits", "marabou")
GRACE_S = 30.0  # start-up allowance on top of the instance timeout before a process is killed
_ACAS = re.compile(r"ACASXU_run2a_(\d+_\d+)_batch_2000")
_EXIT = {0: "holds", 1: "violated", 3: "unknown"}
_STATUS = {"unsat": "holds", "sat": "violated", "timeout": "timeout", "unknown": "unknown"}


@dataclasses.dataclass(frozen=True)
class Instance:
    """One row of ``instances.csv``: network, property and the competition's timeout."""

    index: int
    onnx: Path
    vnnlib: Path
    timeout_s: float

    @property
    def prop(self) -> str:
        return self.vnnlib.stem

    @property
    def network(self) -> str:
        found = _ACAS.search(self.onnx.name)
        return found.group(1) if found else self.onnx.stem

    @property
    def key(self) -> str:
        """``prop_2/1_7`` (property / network)."""
        return f"{self.prop}/{self.network}"


def read_instances(csv_path: str | Path = DEFAULT_CSV) -> list[Instance]:
    """The instances of a VNN-COMP ``instances.csv`` (paths relative to its folder)."""
    folder = Path(csv_path).parent
    out = []
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if not row or row[0].startswith("#"):
                continue
            if len(row) != 3:
                raise ValueError(f"{csv_path}: expected onnx,vnnlib,timeout, got {row}")
            onnx, vnnlib = (folder / "onnx" / row[0], folder / "vnnlib" / row[1])
            onnx = onnx if onnx.exists() else folder / row[0]
            vnnlib = vnnlib if vnnlib.exists() else folder / row[1]
            out.append(Instance(len(out), onnx, vnnlib, float(row[2])))
    return out


def interleave(instances: list[Instance]) -> list[Instance]:
    """Round-robin over the properties (first instance of each property, then the second, ...), so
    that a partial run covers every property.

    >>> rows = [Instance(i, Path(f"n{i % 3}.onnx"), Path(f"prop_{i // 3}.vnnlib"), 116) for i in range(6)]
    >>> [i.key for i in interleave(rows)]
    ['prop_0/n0', 'prop_1/n0', 'prop_0/n1', 'prop_1/n1', 'prop_0/n2', 'prop_1/n2']
    """
    rank: dict[str, int] = {}
    keyed = []
    for inst in instances:
        rank[inst.prop] = rank.get(inst.prop, -1) + 1
        keyed.append((rank[inst.prop], inst.index, inst))
    return [inst for _, _, inst in sorted(keyed, key=lambda t: (t[0], t[1]))]


def select(instances: list[Instance], pattern: str | None) -> list[Instance]:
    """Instances whose key (``prop_2/1_7``) matches a comma-separated glob or substring."""
    if not pattern:
        return list(instances)
    parts = [p.strip() for p in pattern.split(",") if p.strip()]
    return [i for i in instances if any(fnmatch.fnmatchcase(i.key, p) or p in i.key for p in parts)]


# -- mathcircuits ----------------------------------------------------------------------------------
def mathcircuits_support() -> dict:
    """Whether ``python -m proofs.cli vnnlib`` exists, and whether it takes ``--certificate``."""
    try:
        proc = subprocess.run([sys.executable, "-m", "proofs.cli", "vnnlib", "--help"], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return {"available": False, "certificate": False, "note": "`vnnlib --help` did not answer"}
    if proc.returncode != 0 or "vnnlib" not in proc.stdout:
        tail = (proc.stderr.strip().splitlines() or [""])[-1][:160]
        return {"available": False, "certificate": False,
                "note": f"mathcircuits has no vnnlib command yet ({tail})"}
    return {"available": True, "certificate": "--certificate" in proc.stdout, "note": ""}


def _json_out(stdout: str) -> dict:
    text = stdout.strip()
    for candidate in (text, *reversed([ln for ln in text.splitlines() if ln.startswith("{")])):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _seconds(report: dict) -> float | None:
    for key in ("elapsed_s", "elapsed", "seconds", "time_s", "solve_s"):
        if isinstance(report.get(key), (int, float)):
            return float(report[key])
    return None


def run_mathcircuits(inst: Instance, timeout_s: float, support: dict) -> dict:
    """``proofs.cli vnnlib`` on one instance, then its certificate check (each its own process)."""
    if not support["available"]:
        return {"verdict": "n/a", "note": support["note"]}
    from bench import vnnlib_exact

    with tempfile.TemporaryDirectory(prefix="mc-acasxu-") as folder:
        result_file, cert_file = Path(folder) / "result.txt", Path(folder) / "certificate.json"
        command = [sys.executable, "-m", "proofs.cli", "vnnlib", str(inst.onnx), str(inst.vnnlib),
                   "--timeout", f"{timeout_s:g}", "--json", "--result", str(result_file)]
        if support["certificate"]:
            command += ["--certificate", str(cert_file)]
        start = time.perf_counter()
        try:
            proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout_s + GRACE_S)
        except subprocess.TimeoutExpired:
            return {"verdict": "timeout", "wall_s": time.perf_counter() - start, "note": "killed after the timeout"}
        wall = time.perf_counter() - start
        report = _json_out(proc.stdout)
        out = {"wall_s": wall, "solve_s": _seconds(report), "method": str(report.get("method") or ""),
               "exit": proc.returncode, "note": str(report.get("reason") or "")[:300]}
        status, values = "", {}
        if result_file.exists():
            try:
                status, values = vnnlib_exact.read_result(result_file.read_text(encoding="utf-8"))
            except vnnlib_exact.VnnlibError as exc:
                out.update(verdict="error", note=f"unreadable result file: {exc}")
                return out
        verdict = _STATUS.get(status) or _EXIT.get(proc.returncode)
        if verdict is None:
            tail = (proc.stderr.strip().splitlines() or [""])[-1][:200]
            out.update(verdict="error", note=f"exit {proc.returncode}: {tail}")
            return out
        if status and proc.returncode in _EXIT and _EXIT[proc.returncode] not in (verdict, "unknown"):
            out.update(verdict="error", note=f"result file says {status} but exit code {proc.returncode}")
            return out
        out["verdict"] = verdict
        if verdict == "violated":
            if not any(k.startswith("X_") for k in values):  # no result file: the JSON's exact inputs
                given = (report.get("counterexample") or {}).get("inputs") or {}
                values = {k: Fraction(str(v)) for k, v in given.items() if re.fullmatch(r"X_\d+", k)}
            xs = [values.get(f"X_{i}") for i in range(sum(k.startswith("X_") for k in values))]
            out["point"] = None if None in xs or not xs else [str(v) for v in xs]
        if verdict == "holds" and support["certificate"]:
            out["cert"] = _check_certificate(cert_file)
        return out


def _check_certificate(path: Path) -> dict:
    if not path.exists():
        return {"verdict": "missing", "check_s": None, "wall_s": None, "note": "no certificate file written"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.acasxu_worker", "certificate", str(path)], cwd=REPO,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    report = _json_out(proc.stdout) or {"verdict": "error", "note": (proc.stderr.strip().splitlines() or [""])[-1]}
    report["wall_s"] = wall
    report["bytes"] = path.stat().st_size
    return report


# -- Marabou ---------------------------------------------------------------------------------------
def run_marabou(inst: Instance, timeout_s: float) -> dict:
    """Marabou on one instance in its own worker process."""
    command = [sys.executable, "-m", "bench.acasxu_worker", "marabou", str(inst.onnx), str(inst.vnnlib),
               "--timeout", repr(timeout_s)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout_s + GRACE_S)
    except subprocess.TimeoutExpired:
        return {"verdict": "timeout", "wall_s": time.perf_counter() - start, "note": "killed after the timeout"}
    wall = time.perf_counter() - start
    report = _json_out(proc.stdout)
    if not report:
        tail = (proc.stderr.strip().splitlines() or [""])[-1][:200]
        return {"verdict": "crash", "wall_s": wall, "note": f"exit {proc.returncode}: {tail}"}
    report["wall_s"] = wall
    if report.get("point") is not None:
        report["raw_point"] = report["point"]
        report["point"] = [str(Fraction(v)) for v in report["point"]]
    return report


# -- replay, resume, run ---------------------------------------------------------------------------
_CACHE: dict[str, object] = {}


def replay(inst: Instance, point: list) -> dict:
    """Exact replay of ``point`` (exact strings or floats) on the instance: ``{"ok", "why"}``."""
    from bench import onnx_exact, vnnlib_exact

    net = _CACHE.get(str(inst.onnx)) or _CACHE.setdefault(str(inst.onnx), onnx_exact.ExactOnnx.load(inst.onnx))
    prop = _CACHE.get(str(inst.vnnlib)) or _CACHE.setdefault(str(inst.vnnlib), vnnlib_exact.read_vnnlib(inst.vnnlib))
    values = [Fraction(v) for v in point]
    found = vnnlib_exact.replay(prop, net.evaluate, values)
    out = {"ok": found.ok, "why": found.why, "outputs": [f"{float(y):.9g}" for y in found.outputs]}
    box = prop.box()
    clamped = [_clamp(v, *box.get(f"X_{i}", (None, None))) for i, v in enumerate(values)]
    if not found.ok and clamped != values:
        # diagnosis only (the answer stays WRONG): would the point, moved into the box, reach the set?
        out["clamped_ok"] = vnnlib_exact.replay(prop, net.evaluate, clamped).ok
    return out


def _clamp(value: Fraction, lo: Fraction | None, hi: Fraction | None) -> Fraction:
    if lo is not None and value < lo:
        return lo
    if hi is not None and value > hi:
        return hi
    return value


def load_done(path: Path) -> dict[tuple, dict]:
    """Finished jobs of a results file, keyed by (instance key, solver, timeout)."""
    done: dict[tuple, dict] = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut short by an interruption
            done[(rec["key"], rec["solver"], float(rec["timeout_s"]))] = rec
    return done


def refresh_replays(records: list[dict], instances: list[Instance]) -> None:
    """Replay every recorded counterexample again with the current judge (a stored replay is only a record)."""
    by_key = {i.key: i for i in instances}
    for rec in records:
        if rec.get("verdict") == "violated" and rec.get("point") and rec["key"] in by_key:
            rec["replay"] = replay(by_key[rec["key"]], rec["point"])


def recorded(instances: list[Instance], solvers: tuple[str, ...], results: Path,
             timeout_s: float | None = None) -> list[dict]:
    """The records ``results`` already holds for the selection (nothing is run)."""
    done = load_done(results)
    return [done[k] for i in instances for s in solvers
            if (k := (i.key, s, float(timeout_s or i.timeout_s))) in done]


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def run(instances: list[Instance], solvers: tuple[str, ...], results: Path, timeout_s: float | None = None,
        log=None, fresh: bool = False) -> list[dict]:
    """Run every (instance, solver) not yet in ``results``; return the records of the selection."""
    results.parent.mkdir(parents=True, exist_ok=True)
    if fresh and results.exists():
        results.unlink()
    done = load_done(results)
    support = mathcircuits_support() if "mathcircuits" in solvers else None
    if support and not support["available"] and log:
        log(f"acasxu: mathcircuits shows n/a: {support['note']}")
    records = []
    todo = sum((i.key, s, float(timeout_s or i.timeout_s)) not in done for i in instances for s in solvers)
    count = 0
    for inst in instances:
        limit = float(timeout_s or inst.timeout_s)
        for solver in solvers:
            key = (inst.key, solver, limit)
            if key in done:
                records.append(done[key])
                continue
            count += 1
            before = _load()
            out = run_marabou(inst, limit) if solver == "marabou" else run_mathcircuits(inst, limit, support)
            rec = {"key": inst.key, "property": inst.prop, "network": inst.network, "onnx": inst.onnx.name,
                   "vnnlib": inst.vnnlib.name, "solver": solver, "timeout_s": limit, **out,
                   "load_before": before, "load_after": _load(), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
            if rec.get("verdict") == "violated":
                rec["replay"] = replay(inst, rec["point"]) if rec.get("point") else {
                    "ok": False, "why": "no counterexample given", "outputs": []}
            if rec["verdict"] != "n/a":  # a tool that is not there yet is asked again next time
                with open(results, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(rec) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
            records.append(rec)
            if log:
                rp = rec.get("replay")
                tag = "" if rp is None else (" replays" if rp["ok"] else " DOES NOT REPLAY")
                log(f"  [{count}/{todo}] {inst.key:12} {solver:12} {rec['verdict']:8}{tag} "
                    f"solve {_fmt(rec.get('solve_s'))} wall {_fmt(rec.get('wall_s'))} load {before[0] if before else '?'}")
    return records


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.2f}s"
