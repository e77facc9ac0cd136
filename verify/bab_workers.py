"""Where parallel branch and bound runs its sub-box jobs: in process, in forked local processes, or on Dask."""

from __future__ import annotations

import ctypes
import dataclasses
import glob
import multiprocessing
import os
import threading
import time
import uuid
from fractions import Fraction

import numpy as np

from symbolic import errors
from verify import branch_and_bound as bab
from verify.claim_to_problem import Problem, make_problem


@dataclasses.dataclass(frozen=True)
class Job:
    """One sub-box: its rank (most violated first), frontier node id and exact box."""

    rank: int
    node: int
    box: tuple[tuple[Fraction, Fraction], ...]


@dataclasses.dataclass(frozen=True)
class Done:
    """A sub-search's result for the parent (plain, picklable data: the tree without the network);
    ``over``: it stopped at its node ``budget`` (and may be retried with a larger one)."""

    rank: int
    budget: int
    over: bool
    verdict: str
    point: dict | None
    reached: int | None
    tree: dict | None
    stats: bab.Stats
    reason: str


# -- running sub-searches: in this process, in forked processes, on Dask --------------------------
def _run(problem: Problem, job: Job, deadline: float, settings: bab.Settings) -> Done:
    out = bab.search(dataclasses.replace(problem, box=job.box), deadline, settings)
    over = out.verdict == "unknown" and f"the split tree reached {settings.max_nodes} nodes" in out.reason
    tree = out.certificate["tree"] if out.certificate is not None else None
    return Done(job.rank, settings.max_nodes, over, out.verdict, out.point, out.reached, tree, out.stats, out.reason)


class _InProcess:
    """Runs each job when its result is asked for (one slot)."""

    def __init__(self, problem: Problem, deadline: float):
        self.problem, self.deadline, self.pending, self.slots = problem, deadline, [], 1

    def submit(self, job: Job, settings: bab.Settings) -> None:
        self.pending.append((job, settings))

    def receive(self, until: float) -> Done | None:
        return _run(self.problem, self.pending[0][0], self.deadline, self.pending.pop(0)[1])

    def close(self) -> None:
        self.pending.clear()


def _worker(conn, problem: Problem, deadline: float) -> None:
    """A forked worker process: the problem is inherited (never pickled); one BLAS thread; a HiGHS
    instance of its own (one inherited across fork gave different LP duals from run to run, so
    different trees: measured on min3_32x32, 1589 nodes in-process, 2219 to 2587 forked). Runs the
    jobs it receives until the pipe closes."""
    from verify import lp_relaxation

    lp_relaxation._SOLVER.clear()
    one_blas_thread()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        try:
            job, settings = message
            out = _run(problem, job, deadline, settings)
        except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
            import traceback

            out = traceback.format_exc()
        try:
            conn.send(out)
        except (BrokenPipeError, OSError):
            return


class _Processes:
    """``slots`` forked processes, each with its own pipe (no lock is shared, so stopping them by
    force at any moment is safe); :meth:`close` kills those still running and reaps them all."""

    def __init__(self, problem: Problem, deadline: float, slots: int):
        context = multiprocessing.get_context("fork")
        self.slots, self.procs, self.idle, self.busy = slots, [], [], set()
        for _ in range(slots):
            mine, theirs = context.Pipe()
            process = context.Process(target=_worker, args=(theirs, problem, deadline), daemon=True)
            process.start()
            theirs.close()
            self.procs.append(process)
            self.idle.append(mine)

    def submit(self, job: Job, settings: bab.Settings) -> None:
        conn = self.idle.pop()
        conn.send((job, settings))
        self.busy.add(conn)

    def receive(self, until: float) -> Done | None:
        from multiprocessing.connection import wait

        ready = wait(list(self.busy), timeout=None if until == np.inf else max(0.01, until - time.monotonic()))
        if not ready:
            return None
        conn = ready[0]
        try:
            out = conn.recv()
        except (EOFError, OSError):
            raise RuntimeError("a branch-and-bound worker process ended without an answer") from None
        self.busy.discard(conn)
        self.idle.append(conn)
        if isinstance(out, str):
            raise RuntimeError(f"a branch-and-bound worker failed:\n{out}")
        return out

    def close(self) -> None:
        for process in self.procs:
            if process.is_alive():
                process.kill()
        for process in self.procs:
            process.join()
        for conn in self.idle + list(self.busy):
            conn.close()


def one_blas_thread() -> bool:
    """Limit numpy's OpenBLAS to one thread in this process (worker processes share the cores
    already; two BLAS threads per process oversubscribe them). Best effort: False when numpy's
    OpenBLAS is not found."""
    here = os.path.dirname(np.__file__)
    for path in sorted(glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*openblas*"))):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads"):
            if hasattr(lib, name):
                getattr(lib, name)(1)
                return True
    return False


_CACHE: dict = {}
_DASK_LOCK = threading.Lock()


def _run_on_dask(token: str, parts: tuple, job: Job, wall_deadline: float, settings: bab.Settings) -> Done:
    """A Dask task: rebuild the problem once per worker (flint matrices do not pickle), convert the
    wall-clock deadline to this machine's monotonic clock, search the sub-box. One search at a time
    per worker process (the LP solver is one HiGHS instance per process): run Dask workers with
    ``--nthreads 1`` and as many processes as cores."""
    with _DASK_LOCK:
        if _CACHE.get("token") != token:
            _CACHE.clear()
            _CACHE.update(token=token, problem=make_problem(*parts[:3], source=parts[3]))
        return _run(_CACHE["problem"], job, time.monotonic() + (wall_deadline - time.time()), settings)


class _Dask:
    """Jobs as tasks on a Dask scheduler, connected to as ``proofs.census`` does; on :meth:`close`
    tasks not started are cancelled (a running one ends at the shared deadline by itself)."""

    def __init__(self, problem: Problem, deadline: float, scheduler: str, connect_timeout_s: float):
        try:
            from distributed import Client
        except ImportError:
            raise errors.ClaimError("--scheduler needs dask.distributed: pip install distributed") from None
        try:
            self.client = Client(scheduler, timeout=connect_timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise errors.ClaimError(f"cannot reach the Dask scheduler at {scheduler} within "
                                    f"{connect_timeout_s:g} s: {exc}") from None
        try:
            self.slots = max(1, sum(self.client.nthreads().values()))
            [self.parts] = self.client.scatter([(problem.circuit, problem.unsafe, problem.sets, problem.source)],
                                               broadcast=True)
        except BaseException:
            self.client.close()
            raise
        self.wall = time.time() + (deadline - time.monotonic())
        self.token, self.pending = uuid.uuid4().hex, set()

    def submit(self, job: Job, settings: bab.Settings) -> None:
        self.pending.add(self.client.submit(_run_on_dask, self.token, self.parts, job, self.wall, settings, pure=False))

    def receive(self, until: float) -> Done | None:
        from distributed import wait

        left = until - time.monotonic()
        try:
            finished, _ = wait(self.pending, timeout=None if left == np.inf else max(0.01, left),
                               return_when="FIRST_COMPLETED")
        except TimeoutError:
            return None
        future = min(finished, key=lambda f: f.key)   # one at a time; the rest stay pending
        self.pending.discard(future)
        return future.result()

    def close(self) -> None:
        self.client.cancel(list(self.pending))
        self.client.close()
