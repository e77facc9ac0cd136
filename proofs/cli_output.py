"""Standard output of the command line: a closed pipe or a full disk ends a command cleanly.

``mathcircuits prove | head`` closes the pipe early and ``mathcircuits ... > /dev/full`` cannot
write at all; neither is a bug. :func:`run_guarded` runs a command with ``sys.stdout`` wrapped so
that a failed write is recognised as an output failure (and not confused with any other
``OSError``): a closed pipe ends quietly with exit 141 (128 + SIGPIPE, what a shell reports for
``yes | head``), any other write error (``ENOSPC``, ``EIO``, ...) with one line on stderr and exit 2.
Standard output is then pointed at ``/dev/null``, so that Python's final flush stays quiet.

>>> import io, contextlib
>>> with contextlib.redirect_stdout(io.StringIO()) as out:
...     code = run_guarded(lambda: print("proved") or 0)
>>> code, out.getvalue()
(0, 'proved\\n')
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Callable

EXIT_CLOSED_PIPE = 128 + 13  # 128 + SIGPIPE
EXIT_CANNOT_WRITE = 2


class OutputError(Exception):
    """Writing to standard output failed; ``cause`` is the ``OSError``."""

    def __init__(self, cause: OSError):
        super().__init__(str(cause))
        self.cause = cause


class _Guarded:
    """A text stream that forwards to ``stream`` and turns a failed write into :class:`OutputError`."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(exc) from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def run_guarded(work: Callable[[], int]) -> int:
    """``work()`` with a guarded ``sys.stdout``, flushed before returning; returns the exit code."""
    real = sys.stdout
    sys.stdout = _Guarded(real)
    try:
        code = work()
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at interpreter exit
        return code
    except OutputError as exc:
        return _lost(exc.cause, real)
    finally:
        sys.stdout = real


def say(line: str) -> None:
    """Print one line on stderr; a stderr that cannot be written is ignored (nothing else to tell)."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _lost(cause: OSError, stream) -> int:
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a real file (a test's capture): nothing is flushed at exit
    if cause.errno == errno.EPIPE:
        return EXIT_CLOSED_PIPE
    say(f"mathcircuits: error: cannot write the output: {cause.strerror or cause}")
    return EXIT_CANNOT_WRITE
