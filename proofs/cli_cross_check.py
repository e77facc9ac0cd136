"""``--cross-check`` on ``prove``, ``claim``, ``check`` and ``vnnlib``: confirm each verdict a second way.

The second route is the verdict's certificate re-checked by the standalone checker
(:mod:`verify.cross_check`): cvc5 on the same SMT-LIB query for z3's answers, exact re-evaluation
for exhaustive ones, the exact checker for branch and bound and regions, an exact replay for
counterexamples. It runs in what is left of the command's budget. A verdict the second route
contradicts is a failure (both answers are printed): exit 4 for ``claim``, ``check`` and
``vnnlib``, "NOT as expected" for ``prove``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

EXIT_DISAGREE = 4


def add_option(p) -> None:
    """Register ``--cross-check`` on a subcommand's parser."""
    p.add_argument("--cross-check", action="store_true",
                   help="confirm the verdict by a second, independent route (its certificate re-checked: cvc5 for "
                        "z3's answers, exact re-evaluation, the exact certificate checker) and report agreement")


def confirm(result, seconds: float):
    """``result`` with its :class:`~verify.cross_check.CrossCheck` (as JSON) in ``confirmation``."""
    from verify.cross_check import cross_check

    check = cross_check(result, timeout_s=max(seconds, 0.001))
    return dataclasses.replace(result, confirmation=check.to_json())


def line(confirmation: dict | None) -> str | None:
    """One line for people about a confirmation (None when there is none)."""
    from verify.cross_check import CrossCheck

    return None if confirmation is None else CrossCheck.from_json(confirmation).line()


def disagree(results: Sequence) -> bool:
    """Whether any result's second route contradicts it."""
    return any(r.confirmation is not None and r.confirmation["agree"] is False for r in results)
