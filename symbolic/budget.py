"""One wall-clock budget for a whole command: every method checks it, z3 gets what remains."""

from __future__ import annotations

import dataclasses
import math
import os
import time

from symbolic import errors

#: z3 takes its timeout in milliseconds as an unsigned int; an unlimited budget gives it this.
_Z3_MAX_MS = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class Deadline:
    """``timeout_s`` seconds of wall-clock time counted from ``start`` (``time.monotonic()``).

    Create one when a command starts and hand the same object to every step; a step calls
    :meth:`check` between units of work and gives z3 :meth:`z3_ms`. ``Deadline(math.inf)``
    (:data:`UNLIMITED`) never expires.

    >>> d = Deadline(5.0)
    >>> d.expired(), 0 < d.remaining() <= 5.0
    (False, True)
    >>> Deadline(1e-9, start=0.0).check("region enumeration")
    Traceback (most recent call last):
    symbolic.errors.TimeoutExpired: timeout after 1e-09 s in region enumeration
    """

    timeout_s: float
    start: float = dataclasses.field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if isinstance(self.timeout_s, bool) or not isinstance(self.timeout_s, (int, float)):
            raise errors.ClaimError(f"a timeout must be a number of seconds, got {self.timeout_s!r}")
        if not self.timeout_s > 0:  # also rejects nan
            raise errors.ClaimError(f"a timeout must be positive, got {self.timeout_s!r}")
        object.__setattr__(self, "_end", self.start + self.timeout_s)  # checked in inner loops

    @property
    def end(self) -> float:
        """The ``time.monotonic()`` at which the budget runs out (``inf`` when unlimited)."""
        return self._end

    @property
    def unlimited(self) -> bool:
        return math.isinf(self.timeout_s)

    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds left (negative once expired; ``inf`` when unlimited)."""
        return self.timeout_s - self.elapsed()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def reason(self, where: str) -> str:
        """The text of an ``unknown`` verdict, e.g. ``timeout after 1 s in region enumeration``."""
        return f"timeout after {self.timeout_s:g} s in {where}"

    def check(self, where: str) -> None:
        """Raise :class:`~symbolic.errors.TimeoutExpired` (naming ``where``) once the budget is spent."""
        if time.monotonic() >= self._end:
            raise errors.TimeoutExpired(self.reason(where))

    def z3_ms(self, where: str) -> int:
        """What is left, in whole milliseconds (at least 1) for z3's ``timeout`` option; raises
        :class:`~symbolic.errors.TimeoutExpired` if nothing is left."""
        self.check(where)
        left = self.remaining()
        return _Z3_MAX_MS if math.isinf(left) else max(1, min(_Z3_MAX_MS, int(left * 1000)))


def process_start() -> float:
    """The ``time.monotonic()`` at which this process started (Linux ``/proc``), or now when that
    cannot be read: a command's budget then also covers the interpreter's own start-up.

    >>> 0 <= time.monotonic() - process_start() < 3600 * 24 * 365
    True
    """
    now = time.monotonic()
    try:
        with open("/proc/self/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        with open("/proc/uptime", "rb") as handle:
            uptime = float(handle.read().split()[0])
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: start time since boot
    except (OSError, ValueError, IndexError):
        return now
    age = uptime - started
    return now - age if 0 <= age < 3600 * 24 * 365 else now


#: A budget that never runs out (the default of library functions called without one).
UNLIMITED = Deadline(math.inf, 0.0)


def check(deadline: Deadline | None, where: str) -> None:
    """``deadline.check(where)``, or nothing when there is no deadline.

    >>> check(None, "anything")
    """
    if deadline is not None:
        deadline.check(where)
