"""A progress bar on a terminal (drawn by rich); silent when output is piped or JSON is asked for."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """``Progress(total, 'theorems').step('identity')`` counts one finished item and redraws a rich
    bar ``theorems ━━━━━━╸━━━━ 3/56 0:00:01 identity``.

    It draws only when ``stream`` is a terminal and ``enabled`` is true; the bar is removed when the
    last item is counted. A terminal that can no longer be written (closed, hung up) silently ends
    the bar, not the work.
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.total, self.label, self.count = total, label, 0
        self.enabled = enabled and total > 0 and self.stream.isatty()
        self._bar = self._task = None
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[item]}"), console=Console(file=self.stream),
                            transient=True, refresh_per_second=20)
            self._task = self._bar.add_task(label, total=total, item="")
            self._safely(self._bar.start)

    def step(self, text: str = "") -> None:
        """Count one finished item, described by ``text``."""
        self.count += 1
        if not self.enabled:
            return
        self._safely(lambda: self._bar.update(self._task, advance=1, item=text[:40]))
        if self.count >= self.total:
            self._safely(self._bar.stop)
            self.enabled = False

    def _safely(self, action) -> None:
        try:
            action()
        except (OSError, ValueError):  # the terminal went away: the bar stops, the work goes on
            self.enabled = False
            try:
                self._bar.stop()
            except (OSError, ValueError):
                pass
