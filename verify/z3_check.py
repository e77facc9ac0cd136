"""Run one z3 query within a wall-clock deadline; large queries run in a forked child killed on time."""

from __future__ import annotations

import json
import os
import select
import signal
from collections.abc import Callable

import z3

from symbolic.budget import Deadline

#: Queries over at least this many neuron variables run in a forked child process that is killed
#: when the budget ends: z3 was measured ignoring its own timeout (and ``interrupt()``) for 14 s of
#: a 5 s budget on 20,000 chained ReLUs, while up to 10,000 it stopped within 0.4 s of it.
FORK_ABOVE = 5_000
#: z3's "no timeout" value for its ``timeout`` option (milliseconds, unsigned).
_NO_TIMEOUT = 4294967295
#: After the deadline a forked child gets this long to answer before it is killed.
_GRACE_S = 0.05

Extract = Callable[[object, z3.CheckSatResult], object]


def run(solver, deadline: Deadline, where: str, extract: Extract | None = None,
        size: int = 0) -> tuple[z3.CheckSatResult, str, object]:
    """``solver.check()`` within ``deadline``: ``(answer, reason, extracted)``.

    ``solver`` is a ``z3.Solver`` or ``z3.Optimize`` with everything asserted; ``extract(solver,
    answer)`` reads what the caller needs (model values, bounds) as JSON-ready data while the
    solver still holds its answer. ``reason`` is z3's reason for ``unknown`` or, when the budget
    ran out, ``timeout after T s in <where>``. Raises :class:`~symbolic.errors.TimeoutExpired`
    if the budget is already spent. ``size`` (neuron variables) picks in-process or forked.

    >>> x = z3.Real('x'); s = z3.Solver(); s.add(x > 1, x < 2)
    >>> answer, reason, value = run(s, Deadline(5.0), 'z3', lambda s, a: str(s.model()[x]))
    >>> answer, value
    (sat, '3/2')
    """
    ms = deadline.z3_ms(where)
    if size < FORK_ABOVE or deadline.unlimited or not hasattr(os, "fork"):
        solver.set("timeout", ms)
        answer = solver.check()
        return answer, _reason(solver, answer, deadline, where), _extract(extract, solver, answer)
    return _forked(solver, deadline, where, extract)


def _reason(solver, answer, deadline: Deadline, where: str) -> str:
    if answer != z3.unknown:
        return ""
    why = solver.reason_unknown()
    if deadline.expired() or why in ("timeout", "canceled", "interrupted from keyboard"):
        return deadline.reason(where)
    return f"z3: {why}"


def _extract(extract: Extract | None, solver, answer):
    return None if extract is None else extract(solver, answer)


_ANSWERS = {"sat": z3.sat, "unsat": z3.unsat, "unknown": z3.unknown}


def _forked(solver, deadline: Deadline, where: str, extract: Extract | None):
    """Check in a forked child (copy-on-write: nothing is serialised); kill it at the deadline."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer, write one JSON line, and leave without any cleanup
        try:
            os.close(read_end)
            solver.set("timeout", _NO_TIMEOUT)
            answer = solver.check()
            why = solver.reason_unknown() if answer == z3.unknown else ""
            payload = json.dumps([str(answer), why, _extract(extract, solver, answer)])
            with os.fdopen(write_end, "w") as handle:
                handle.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    try:
        while True:
            left = deadline.remaining() + _GRACE_S
            ready, _, _ = select.select([read_end], [], [], max(0.0, left))
            if not ready:
                return z3.unknown, deadline.reason(where), None
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read_end)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
    if not data:
        return z3.unknown, f"z3 stopped without an answer ({_status(status)})", None
    answer, why, extracted = json.loads(data)
    answer = _ANSWERS[answer]
    reason = "" if answer != z3.unknown else (
        deadline.reason(where) if deadline.expired() else f"z3: {why}")
    return answer, reason, extracted


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}" if os.WIFEXITED(status) else f"status {status}"
