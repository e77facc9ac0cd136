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
    from verify.cross_check import confirmed

    return confirmed(result, seconds)


class Beside:
    """Cross-checks that run beside the next decisions (``prove --cross-check``).

    Each certificate is built in the calling thread (z3 objects stay where z3 runs); checking it
    (cvc5 in its child process, which runs on the other core, or an exact re-evaluation) happens
    in one worker thread while the caller decides the next theorem. :meth:`results` waits for all.
    """

    def __init__(self):
        import concurrent.futures

        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cross-check")
        self.jobs: list = []

    def submit(self, result, seconds: float) -> None:
        from verify.cross_check import cross_check
        from verify.result_to_certificate import NoCertificate, certificate_of

        try:
            cert = dict(certificate_of(result)) if result.confirmation is None else None
        except NoCertificate:
            cert = None
        if cert is None:  # nothing to check (an unknown verdict, no certificate): decided here, at once
            self.jobs.append((result, cross_check(result, timeout_s=seconds)))
        else:
            self.jobs.append((result, self.pool.submit(cross_check, result, seconds, cert)))

    def results(self) -> list:
        """The submitted results, in order, each with its ``confirmation``."""
        out = [dataclasses.replace(r, confirmation=(job if not hasattr(job, "result") else job.result()).to_json())
               for r, job in self.jobs]
        self.pool.shutdown()
        return out


def line(confirmation: dict | None) -> str | None:
    """One line for people about a confirmation (None when there is none)."""
    from verify.cross_check import CrossCheck

    return None if confirmation is None else CrossCheck.from_json(confirmation).line()


def disagree(results: Sequence) -> bool:
    """Whether any result's second route contradicts it."""
    return any(r.confirmation is not None and r.confirmation["agree"] is False for r in results)
