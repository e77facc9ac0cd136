"""Run CLI cases in fresh subprocesses under limits, a few at a time, and record what they did.

Each run gets its own folders: ``cwd`` (where input files are written and the CLI runs), ``home``
and ``tmp`` (its HOME and TMPDIR, which must stay empty) and ``io`` (stdout and stderr). Processes
start with ``RLIMIT_AS`` and ``RLIMIT_FSIZE`` set, in their own session so that a run past its
wall-clock limit is killed with everything it started.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JOBS = 3  # concurrent CLI processes (2 cores: start-up is mostly import time)
MEMORY_BYTES = 4 * 2**30  # RLIMIT_AS of each case; torch and onnx start in well under 1.5 GiB
WALL_S = 60.0  # default wall-clock limit of each case
#: what a run may leave in its HOME: matplotlib's font cache (reports draw plots with matplotlib)
HOME_CACHE_DIRS = {".cache", ".cache/matplotlib", ".config", ".config/matplotlib"}
HOME_CACHE_FILES = ".cache/matplotlib/fontlist-"


@dataclasses.dataclass(frozen=True)
class Case:
    """One CLI run. ``argv`` builds the command line in the case's folder (writing any input files
    there); ``writes`` are the paths (relative to that folder; ``dir/`` is a folder and everything in
    it) the run may create or change."""

    group: str
    name: str
    argv: Callable[[Path], list[str]]
    codes: tuple[int, ...] = (2,)
    writes: tuple[str, ...] = ()
    stdout: str = "file"  # "file", "full" (/dev/full) or "closed" (a pipe whose reader is gone)
    wall_s: float = WALL_S
    file_bytes: int = 2**30  # RLIMIT_FSIZE: a small one makes writing a file fail as on a full disk
    needs: str | None = None  # an optional package the payload generator needs
    waiting: str | None = None  # xfail(strict=True) reason: the fix belongs to another change

    @property
    def id(self) -> str:
        return f"{self.group}-{self.name}"


@dataclasses.dataclass
class Outcome:
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    cpu_s: float  # user + system time of the CLI process and of the workers it waited for
    timed_out: bool
    before: dict
    after: dict
    others: list[str]  # anything written in the case's HOME or TMPDIR


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` with its kind and, for files, a digest (FIFOs are never opened)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        rel = str(path.relative_to(folder))
        if stat.S_ISLNK(mode):
            found[rel] = "link:" + os.readlink(path)
        elif stat.S_ISDIR(mode):
            found[rel] = "dir"
        elif stat.S_ISFIFO(mode):
            found[rel] = "fifo"
        elif stat.S_ISREG(mode):
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[rel] = "special"
    return found


def _limits(memory: int, file_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


class Run:
    """A started case: its process, its folders and its deadline."""

    def __init__(self, case: Case, base: Path):
        self.case = case
        root = base / case.id
        self.cwd, self.home, self.tmp, self.io = (root / "cwd", root / "home", root / "tmp", root / "io")
        for folder in (self.cwd, self.home, self.tmp, self.io):
            folder.mkdir(parents=True)
        argv = case.argv(self.cwd)
        self.before = snapshot(self.cwd)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MATHCIRCUITS_", "PYTEST", "COV_"))}
        env.update(HOME=str(self.home), TMPDIR=str(self.tmp), PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
                   PYTHONDONTWRITEBYTECODE="1")
        self.stderr = open(self.io / "stderr", "wb")
        read_end = None
        if case.stdout == "full":
            self.stdout = open("/dev/full", "wb")
        elif case.stdout == "closed":
            read_end, write_end = os.pipe()
            self.stdout = os.fdopen(write_end, "wb")
        else:
            self.stdout = open(self.io / "stdout", "wb")
        if read_end is not None:
            os.close(read_end)  # the reader is gone before the CLI writes: `prove | head -0`
        self.start = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "proofs.cli", *argv], cwd=self.cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.stdout, stderr=self.stderr,
                                     start_new_session=True, preexec_fn=_limits(MEMORY_BYTES, case.file_bytes))
        self.stdout.close()
        self.stderr.close()
        self.timed_out = False

    def poll(self) -> Outcome | None:
        """The outcome once the process has ended (killing it at its deadline), else None."""
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            if time.monotonic() - self.start <= self.case.wall_s:
                return None
            self.timed_out = True
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group we started: the CLI and its workers
            pid, status, usage = os.wait4(self.proc.pid, 0)
        seconds = time.monotonic() - self.start
        self.proc.returncode = os.waitstatus_to_exitcode(status)

        def read(name: str) -> str:
            return (self.io / name).read_text(errors="replace") if (self.io / name).exists() else ""

        others = [str(p) for p in self.tmp.rglob("*")]
        cache = [p for p in self.home.rglob("*") if str(p.relative_to(self.home)) in HOME_CACHE_DIRS
                 or str(p.relative_to(self.home)).startswith(HOME_CACHE_FILES)]
        others += [str(p) for p in self.home.rglob("*") if p not in cache]
        return Outcome(None if self.timed_out else self.proc.returncode, read("stdout"), read("stderr"), seconds,
                       usage.ru_utime + usage.ru_stime, self.timed_out, self.before, snapshot(self.cwd), others)


def run_all(cases: list[Case], base: Path, jobs: int = JOBS) -> dict[str, Outcome | str]:
    """Run ``cases`` (built with their payloads) ``jobs`` at a time; a case whose payload could not be
    built gets a string saying why instead of an :class:`Outcome`."""
    queue, running, outcomes = list(cases), [], {}
    while queue or running:
        while queue and len(running) < jobs:
            case = queue.pop(0)
            try:
                running.append(Run(case, base))
            except Exception as exc:  # noqa: BLE001 - a broken payload builder fails its own case only
                outcomes[case.id] = f"building the case failed: {type(exc).__name__}: {exc}"
        for run in list(running):
            outcome = run.poll()
            if outcome is not None:
                outcomes[run.case.id] = outcome
                running.remove(run)
        time.sleep(0.02)
    return outcomes


def missing(case: Case, artifacts: dict) -> str | None:
    if case.needs == "torch" and "pt" not in artifacts:
        return "torch is not installed"
    if case.needs == "onnx" and "onnx" not in artifacts:
        return "onnx is not installed"
    if case.needs == "distributed":
        try:
            import distributed  # noqa: F401
        except ImportError:
            return "dask.distributed is not installed"
    return None
