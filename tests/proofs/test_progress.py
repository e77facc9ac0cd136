"""The prove/report/vnnlib progress bar: drawn by rich on a terminal, silent otherwise (issue 12)."""

import io
import os
import pty

from proofs.progress import Progress


def test_silent_when_not_a_terminal():
    stream = io.StringIO()
    bar = Progress(3, "theorems", stream)
    for name in ("a", "b", "c"):
        bar.step(name)
    assert stream.getvalue() == ""


def test_a_rich_bar_on_a_terminal_that_goes_away_when_done():
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal:
        bar = Progress(2, "theorems", terminal)
        bar.step("identity")
        bar.step("minimum")
        terminal.flush()
        drawn = os.read(master, 1 << 16).decode("utf-8", "replace")
    os.close(master)
    assert "theorems" in drawn and "/2" in drawn and "━" in drawn
    assert not bar.enabled  # stopped after the last item


def test_a_closed_terminal_ends_the_bar_not_the_work():
    master, slave = pty.openpty()
    terminal = os.fdopen(slave, "w")
    bar = Progress(3, "theorems", terminal)
    terminal.close()
    os.close(master)
    for name in ("a", "b", "c"):
        bar.step(name)  # never raises
    assert bar.count == 3
