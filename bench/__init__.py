"""Benchmark: mathcircuits against a hand-written z3 encoding and Marabou on the same queries.

``python -m bench`` (or ``make bench``) runs every case of :mod:`bench.cases` once per solver and
run, each in its own process (:mod:`bench.worker`), replays every counterexample exactly and prints
a table plus the targets of issue 6 (:mod:`bench.report`). See ``bench/README.md``.

Nothing here is imported by the toolkit itself; the package only needs ``z3`` for the baseline and
the optional ``maraboupy`` (the ``bench`` extra) for the Marabou peer.
"""
