"""Verdicts and the frozen result objects that carry their evidence."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from fractions import Fraction

from symbolic import errors
from symbolic.printing import readable
from verify.claim import Claim, Unreachable


class Verdict(enum.Enum):
    """The three outcomes: never a bool, and a timeout is never ``PROVED``."""

    PROVED = "proved"
    REFUTED = "refuted"
    UNKNOWN = "unknown"


def exact_str(value: object) -> str:
    """``Fraction(1, 3)`` -> ``'1/3'``, ``True`` -> ``'true'``, ``{'y1': 2}`` -> ``'y1 = 2'``;
    anything else via ``str``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):  # the outputs of a multi-output network
        return ", ".join(f"{k} = {exact_str(v)}" for k, v in value.items())
    return str(value)


@dataclasses.dataclass(frozen=True)
class Counterexample:
    """A point where the claim fails, with both values, confirmed by exact replay.

    For an unreachable claim ``network_value`` maps each output to its value, ``target_value`` is
    ``True`` (the point reaches the output set) and ``reached`` is the index of the disjunct reached.
    """

    point: Mapping[str, Fraction]
    network_value: object
    target_value: object
    reached: int | None = None

    def fails_at(self) -> str:
        """The failing point by value, for people (long rationals shortened; exact in ``to_json``).

        >>> Counterexample({"x": Fraction(19)}, Fraction(0), Fraction(1)).fails_at()
        'fails at x = 19: N = 0, target = 1'
        """
        point = ", ".join(f"{k} = {readable(v)}" for k, v in self.point.items())
        if self.reached is not None:
            return f"reaches the unsafe set at {point}: {readable(self.network_value)}"
        return f"fails at {point}: N = {readable(self.network_value)}, target = {readable(self.target_value)}"

    def to_json(self) -> dict:
        out = {
            "point": {k: exact_str(v) for k, v in self.point.items()},
            "network_value": exact_str(self.network_value),
            "target_value": exact_str(self.target_value),
        }
        if self.reached is not None:
            out["outputs"] = {k: exact_str(v) for k, v in self.network_value.items()}
            out["reached_disjunct"] = self.reached
        return out


def replay(claim: Claim, point: Mapping[str, Fraction]) -> Counterexample | None:
    """Re-evaluate ``claim`` exactly at ``point``: a Counterexample if it fails there, else None."""
    if not claim.domain.contains(point):
        return None
    holds, network, target = claim.holds_at(point)
    if holds:
        return None
    if isinstance(claim.kind, Unreachable):  # target is the index of the disjunct reached
        return Counterexample(dict(point), network, True, reached=target)
    return Counterexample(dict(point), network, target)


def confirmed(claim: Claim, point: Mapping[str, Fraction], source: str) -> Counterexample:
    """Replay a counterexample and raise ReplayError (a toolkit bug) if it does not replay."""
    found = replay(claim, point)
    if found is None:
        shown = ", ".join(f"{k}={exact_str(v)}" for k, v in point.items())
        raise errors.ReplayError(f"{source} counterexample {shown} does not replay for {claim.statement()}")
    return found


@dataclasses.dataclass(frozen=True)
class Result:
    """What deciding a claim produced: verdict, method, time, and the evidence.

    ``certificate``: for a proved verdict of branch and bound, the certificate (a JSON-ready dict,
    docs/certificates.md) that :func:`verify.certificate.check` re-checks; ``stats``: the method's
    counts and timings (JSON-ready), or None.
    """

    claim: Claim
    verdict: Verdict
    method: str
    elapsed_s: float
    counterexample: Counterexample | None = None
    reason: str = ""
    evidence: str = ""
    certificate: Mapping | None = dataclasses.field(default=None, repr=False, compare=False)
    stats: Mapping | None = dataclasses.field(default=None, compare=False)
    #: ``--cross-check``: :meth:`verify.cross_check.CrossCheck.to_json` of a second, independent route
    confirmation: Mapping | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.verdict is Verdict.REFUTED and self.counterexample is None:
            raise ValueError("a refuted verdict needs a counterexample")
        if self.verdict is not Verdict.REFUTED and self.counterexample is not None:
            raise ValueError(f"a {self.verdict.value} verdict cannot carry a counterexample")
        if self.certificate is not None and self.verdict is not Verdict.PROVED:
            raise ValueError(f"a {self.verdict.value} verdict cannot carry a certificate")

    def _repr_html_(self) -> str:
        """Notebook display: verdict badge, statement, domain, method and evidence."""
        from html import escape

        colour = {Verdict.PROVED: "#1a7f37", Verdict.REFUTED: "#cf222e", Verdict.UNKNOWN: "#6e7781"}[self.verdict]
        facts = self.to_json()
        detail = self.reason or self.evidence
        if self.counterexample:  # exact numbers readable (decimal and fraction); exact in to_json
            cex = self.counterexample
            point = ", ".join(f"{k} = {readable(v)}" for k, v in cex.point.items())
            detail = (f"counterexample {point}: network {readable(cex.network_value)}, "
                      f"target {readable(cex.target_value)} (replayed exactly)")
        return (f"<div><span style='background:{colour};color:white;padding:1px 6px;border-radius:3px'>"
                f"{self.verdict.value}</span> <code>{escape(facts['statement'])}</code> on "
                f"<code>{escape(facts['domain'])}</code> by {escape(self.method)} in {self.elapsed_s:.3f} s"
                f"<br><small>{escape(detail)}</small></div>")

    def _repr_latex_(self) -> str:
        """Notebook display as text-mode LaTeX."""
        return rf"$\text{{{self.verdict.value}: {self.claim.statement()}}}$".replace("_", r"\_")

    def to_json(self) -> dict:
        cex = self.counterexample
        return {
            "verdict": self.verdict.value,
            "statement": self.claim.statement(),
            "domain": self.claim.domain.describe(self.claim.variables),
            "method": self.method,
            "elapsed_s": round(self.elapsed_s, 6),
            "counterexample": cex.to_json()["point"] if cex else None,
            "network_value": exact_str(cex.network_value) if cex else None,
            "target_value": exact_str(cex.target_value) if cex else None,
            "reason": self.reason,
            "evidence": self.evidence,
            **({"outputs": cex.to_json()["outputs"], "reached_disjunct": cex.reached}
               if cex is not None and cex.reached is not None else {}),
            **({"stats": dict(self.stats)} if self.stats is not None else {}),
            **({"cross_check": dict(self.confirmation)} if self.confirmation is not None else {}),
        }
