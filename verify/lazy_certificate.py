"""A certificate built on first use: a Result can carry one at no cost until someone asks for it.

>>> calls = []
>>> cert = Deferred(lambda: calls.append(1) or {"kind": "exhaustive"})
>>> len(calls)
0
>>> dict(cert), dict(cert), len(calls)
({'kind': 'exhaustive'}, {'kind': 'exhaustive'}, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping


class Deferred(Mapping):
    """A read-only mapping whose content ``build()`` makes the first time it is read (then kept).

    ``build`` may raise :class:`verify.result_to_certificate.NoCertificate` (say, a target the
    certificate format cannot write); it is then raised on every read.
    """

    def __init__(self, build: Callable[[], Mapping]) -> None:
        self._build = build
        self._data: dict | None = None

    def _content(self) -> dict:
        if self._data is None:
            self._data = dict(self._build())
            self._build = None  # let what the builder held (cells, points) go
        return self._data

    def __getitem__(self, key: str) -> object:
        return self._content()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._content())

    def __len__(self) -> int:
        return len(self._content())

    def __repr__(self) -> str:
        return "Deferred(built)" if self._data is not None else "Deferred(not built yet)"
