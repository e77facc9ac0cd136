"""Benchmark: mathcircuits against a hand-written z3 encoding and Marabou on the same queries.

``python -m bench`` (or ``make bench``) runs every case of :mod:`bench.cases` (2-input models,
the 3- and 4-input models of ``bench/models``, ``is_even``, the catalogue) once per solver and run,
each in its own process (:mod:`bench.worker`), replays every counterexample exactly and prints a
table plus the targets of issues 6 and 11 (:mod:`bench.report`). ``--group acasxu`` runs the 180
ACAS Xu instances for mathcircuits and Marabou (:mod:`bench.acasxu`), replaying every
counterexample with the bench's own exact ONNX and VNN-LIB judge (:mod:`bench.onnx_exact`,
:mod:`bench.vnnlib_exact`). See ``bench/README.md``.

Nothing here is imported by the toolkit itself; the package needs ``z3`` for the baseline, the
optional ``maraboupy`` (the ``bench`` extra) for the Marabou peer, ``onnx`` for the exact judge
and torch only for :mod:`bench.train_models`.
"""
