"""A one-line progress bar on a terminal; silent when output is piped or JSON is asked for."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``Progress(total, 'proving').step('identity')`` redraws ``[####....] 3/56 proving: identity``.

    It draws only when ``stream`` is a terminal and ``enabled`` is true, at most 20 times a second;
    a terminal that can no longer be written (closed, hung up) silently ends the bar, not the work.
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0 and self.stream.isatty()
        self.total, self.label, self.count = total, label, 0
        self.start = self._last = time.perf_counter()

    def step(self, text: str = "") -> None:
        """Count one finished item, described by ``text``."""
        self.count += 1
        now = time.perf_counter()
        if not self.enabled or (now - self._last < 0.05 and self.count < self.total):
            return
        self._last = now
        filled = int(30 * self.count / self.total)
        try:
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total} {self.label}, "
                              f"{now - self.start:.0f} s: {text[:40]:40s}")
            if self.count >= self.total:
                self.stream.write("\r" + " " * 110 + "\r")
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: the bar stops, the work goes on
            self.enabled = False
