"""The census's progress: a ``rich`` bar on a terminal, one plain line per seed otherwise.

>>> import io
>>> out = io.StringIO()
>>> with CensusProgress(2, "identity", stream=out) as progress:
...     progress.done({"seed": 0, "verdict": "refuted", "rounded_verdict": "proved", "denominator": 1})
>>> print(out.getvalue().strip())  # doctest: +NORMALIZE_WHITESPACE
census of identity: 2 seeds to train and check
seed 0 (1/2): trained network refuted; rounding proved (q = 1)
"""

from __future__ import annotations

import sys
from fractions import Fraction
from typing import TextIO


def describe(record: dict) -> str:
    """One line about a finished seed: each verdict named with the network it is about."""
    if record.get("verdict") == "error":
        return f"error: {record.get('error', '?')}"[:160]
    parts = [f"trained network {record.get('verdict')}"]
    if record.get("max_error") is not None:
        parts[0] += f" (max error {float(Fraction(record['max_error'])):.3g})"
    rounding = f"rounding {record.get('rounded_verdict')}"
    if record.get("rounded_verdict") == "proved":
        rounding += f" (q = {record.get('denominator')})"
    parts.append(rounding)
    ex = record.get("extraction")
    if ex is not None:
        if ex.get("found"):
            delta = ex.get("delta_decimal")
            parts.append(f"circuit found: {ex.get('relus')} ReLUs" + (f", delta {delta}" if delta else ""))
        else:
            parts.append("no circuit found")
    return "; ".join(parts)


class CensusProgress:
    """Progress of ``total`` seeds: on a terminal a ``rich`` bar that keeps moving while seeds
    train (spinner, elapsed and remaining time, the last seed's outcome); on any other stream
    one plain line per finished seed; with ``quiet`` nothing. A stream that can no longer be
    written ends the display, not the census."""

    def __init__(self, total: int, recipe: str, stream: TextIO | None = None, quiet: bool = False,
                 terminal: bool | None = None):
        self.stream = stream or sys.stderr
        self.total, self.recipe, self.count, self.quiet = total, recipe, 0, quiet or total <= 0
        if terminal is None:
            terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.terminal = terminal and not self.quiet
        self._bar = self._task = None

    def __enter__(self) -> CensusProgress:
        if self.quiet:
            return self
        if self.terminal:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            console = Console(file=self.stream, force_terminal=True)
            self._bar = Progress(SpinnerColumn(), TextColumn("census of {task.fields[recipe]}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[last]}"), console=console, transient=False)
            self._task = self._bar.add_task("census", total=self.total, recipe=self.recipe, last="training...")
            self._bar.start()
        else:
            self._write(f"census of {self.recipe}: {self.total} seeds to train and check\n")
        return self

    def done(self, record: dict) -> None:
        """Count one finished seed."""
        self.count += 1
        if self.quiet:
            return
        line = f"seed {record.get('seed')} ({self.count}/{self.total}): {describe(record)}"
        if self._bar is not None:
            try:
                self._bar.update(self._task, advance=1, last=line[:60])
            except (OSError, ValueError):
                self._stop()
        else:
            self._write(line + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the stream went away: the census goes on
            self.quiet = True

    def _stop(self) -> None:
        bar, self._bar = self._bar, None
        if bar is not None:
            try:
                bar.stop()
            except (OSError, ValueError):
                pass
        self.quiet = True

    def __exit__(self, *exc) -> None:
        self._stop()
