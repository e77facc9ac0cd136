"""Proof length as a measure of understanding: prove ``|N - f| <= eps`` directly, and through the extracted circuit.

Directly: the claim ``|N - f| <= eps`` on the domain, by the method chooser (:func:`verify.decide.decide`).
Through ``C``: ``|N - C| <= eps`` (:func:`verify.equivalence.equivalence`) and ``C = f`` (the
extraction's own proof); together they give ``|N - f| <= eps``. Each proof's size is counted in
the unit of its method: linear regions (cells), branch-and-bound leaves, points, or SMT queries.
Compare Gross et al. 2024, "Compact proofs of model performance via mechanistic interpretability".
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from verify.claim import Tolerance
from verify.decide import Config, decide
from verify.result import Result


@dataclasses.dataclass(frozen=True)
class ProofSize:
    """One proof: what it proves, its verdict, method, size (``count`` ``unit``) and time."""

    statement: str
    verdict: str
    method: str
    count: int | None
    unit: str
    seconds: float

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def proof_size(result: Result, statement: str) -> ProofSize:
    """The size of ``result``'s proof in its method's unit."""
    stats = dict(result.stats or {})
    method = result.method
    if "cells" in stats:
        count, unit = stats["cells"], "cells"
    elif "leaves" in stats:
        count, unit = stats["leaves"], "leaves"
    elif "points" in stats:
        count, unit = stats["points"], "points"
    elif method.startswith("z3") or method == "smt":
        count, unit = 1, "SMT query"
    else:
        count, unit = None, "n/a"
    return ProofSize(statement, result.verdict.value, method, count, unit, round(result.elapsed_s, 4))


def compare_proofs(extraction, eps: Fraction | None = None, config: Config = Config()) -> dict:
    """Both routes to ``|N - f| <= eps`` (default ``eps``: twice the exact ``max |N - C|``)."""
    from verify.equivalence import equivalence

    claim, circuit = extraction.claim, extraction.circuit
    if circuit is None or extraction.distance is None or extraction.distance.value is None:
        return {"eps": None, "reason": "no circuit with an exact distance was extracted"}
    config = config.started()
    eps = Fraction(eps) if eps is not None else 2 * Fraction(extraction.distance.value)
    direct = decide(dataclasses.replace(claim, kind=Tolerance(eps)), config)
    via = equivalence(claim.circuit, circuit, claim.domain, eps, config, distance=False).result
    parts = [proof_size(direct, f"|N - f| <= {_short(eps)}"),
             proof_size(via, f"|N - C| <= {_short(eps)}"),
             proof_size(extraction.result, "C = f" if not isinstance(claim.kind, Tolerance) else
                        f"|C - f| <= {_short(claim.kind.eps)}")]
    through = parts[1:]
    compact = _through_steps(extraction, eps, config)
    return {
        "eps": str(eps),
        "eps_decimal": f"{float(eps):.6g}",
        "through_steps": compact,
        "direct": parts[0].to_json(),
        "through_circuit": [p.to_json() for p in through],
        "through_circuit_seconds": round(sum(p.seconds for p in through), 4),
        "through_circuit_count": None if any(p.count is None for p in through) or len({p.unit for p in through}) > 1
        else sum(p.count for p in through),
    }


def _through_steps(extraction, eps: Fraction, config: Config) -> dict | None:
    """The compact route: ``|N - S| <= B`` by the simplification's interval bounds (one line per
    step, no search; the steps that fit in a share of ``eps``), ``|S - C| <= eps - B`` on the smaller
    simplified network ``S``, and ``C = f``."""
    from verify.equivalence import equivalence
    from verify.simplification import simplify

    if extraction.simplified is None:
        return None
    # a share of eps for the steps, the rest for |S - C| on the smaller network they leave; the
    # share is tried from a half down to an eighth, the first that proves is kept
    ranges: dict = {}  # exact ranges of deeper neurons, shared by the three tries (keyed by their cone)
    for share in (Fraction(1, 2), Fraction(1, 4), Fraction(1, 8)):
        simplified = simplify(extraction.claim.circuit, extraction.claim.domain, eps * share, config.deadline,
                              exact=ranges)
        bound = simplified.bound
        rest = equivalence(simplified.circuit, extraction.circuit, extraction.claim.domain, eps - bound, config,
                           distance=False).result
        if rest.verdict.value == "proved":
            break
    relus = sum(1 for a in simplified.circuit.neurons if a.activation.value == "relu")
    parts = [ProofSize(f"|N - S| <= {_short(bound)} (S: {relus} ReLUs)", "proved", "interval arithmetic",
                       len(simplified.steps), "steps", 0.0),
             proof_size(rest, f"|S - C| <= {_short(eps - bound)}"),
             proof_size(extraction.result, "C = f")]
    return {"steps_bound": str(bound), "parts": [p.to_json() for p in parts],
            "verdict": "proved" if all(p.verdict == "proved" for p in parts) else "unknown"}


def _short(value: Fraction) -> str:
    value = Fraction(value)
    return str(value) if len(str(value)) <= 12 else f"{float(value):.4g}"
