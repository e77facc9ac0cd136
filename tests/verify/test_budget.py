"""One wall-clock budget: every method stops within 10% + 1 s of it with ``unknown`` and the reason."""

from __future__ import annotations

import json
import math
import random
import time
from fractions import Fraction

import pytest
import sympy as sp
import z3

from proofs import cli
from symbolic import errors
from symbolic.budget import UNLIMITED, Deadline
from networks.json_to_circuit import dumps
from symbolic.circuit import Activation, Assignment, Circuit, from_layers
from symbolic.circuit_to_closed_form import closed_form
from symbolic.expr_to_circuit import circuits_difference
from symbolic.relu import sym
from verify import z3_check
from verify.claim import Claim, Tolerance
from verify.decide import Config, decide
from verify.domain import Domain, IntegerRange, RealInterval
from verify.result import Verdict
from verify.rounding import round_and_prove
from verify.worst_case import max_error

BUDGET = 0.5


def within(elapsed: float, budget: float = BUDGET) -> bool:
    return elapsed <= 1.1 * budget + 1.0


def _layers(rng, sizes):
    return [([[Fraction(rng.randint(-9, 9), 8) for _ in range(i)] for _ in range(o)],
             [Fraction(rng.randint(-9, 9), 8) for _ in range(o)]) for i, o in zip(sizes, sizes[1:])]


def equivalent_pair(width: int = 12, seed: int = 0) -> Circuit:
    """``N - M`` for a 3-input network N and a copy M with permuted, rescaled neurons: identically
    0, which z3 proves on R^3 only after many case splits (more than 5 s at width 12)."""
    rng = random.Random(seed)
    (w1, b1), (w2, b2) = _layers(rng, [3, width, width])
    w3 = [Fraction(rng.randint(-9, 9), 8) for _ in range(width)]
    net = from_layers([(w1, b1), (w2, b2), ([w3], None)])
    perm = list(range(width))
    rng.shuffle(perm)
    s1 = [Fraction(rng.randint(1, 5), rng.randint(1, 5)) for _ in range(width)]
    s2 = [Fraction(rng.randint(1, 5), rng.randint(1, 5)) for _ in range(width)]
    copy = from_layers([([[v * s1[p] for v in w1[p]] for p in perm], [b1[p] * s1[p] for p in perm]),
                        ([[row[p] / s1[p] * s2[j] for p in perm] for j, row in enumerate(w2)],
                         [b * s2[j] for j, b in enumerate(b2)]),
                        ([[w3[j] / s2[j] for j in range(width)]], None)])
    return circuits_difference(net, copy)


def chain(depth: int) -> Circuit:
    """``y = R(R(...R(x)))``, ``depth`` ReLUs deep, built directly."""
    prev, assignments = "x", []
    for i in range(depth):
        assignments.append(Assignment(f"h{i}", ((prev, 1),), 0))
        prev = f"h{i}"
    return Circuit(("x",), (*assignments, Assignment("y", ((prev, 1),), 0, Activation.LINEAR)), ("y",))


def z3_only(timeout_s: float) -> Config:
    """A config that goes straight to z3 after regions (the engine, when present, is its own test)."""
    extra = {"engine": False} if "engine" in Config.__dataclass_fields__ else {}
    return Config(timeout_s=timeout_s, **extra)


def test_deadline_counts_checks_and_refuses_bad_budgets():
    d = Deadline(3.0)
    assert not d.expired() and 0 < d.remaining() <= 3 and d.end == d.start + 3
    assert 1 <= d.z3_ms("z3") <= 3000 and UNLIMITED.z3_ms("z3") == 2**31 - 1
    with pytest.raises(errors.TimeoutExpired, match="timeout after 0.25 s in region enumeration"):
        Deadline(0.25, start=time.monotonic() - 1).check("region enumeration")
    for bad in (0, -1, math.nan, True, "1"):
        with pytest.raises(errors.ClaimError):
            Deadline(bad)


@pytest.mark.parametrize("domain", [Domain(), None], ids=["R^3", "box"])
def test_z3_stops_at_the_budget(domain):
    diff = equivalent_pair()
    domain = domain if domain is not None else Domain({n: RealInterval(-1, 1) for n in diff.inputs})
    start = time.monotonic()
    result = decide(Claim(diff, sp.S.Zero, domain), z3_only(BUDGET))
    assert within(time.monotonic() - start)
    assert result.verdict is Verdict.UNKNOWN and result.reason.startswith(f"timeout after {BUDGET} s in ")


def test_a_forked_z3_query_is_killed_at_the_deadline(monkeypatch):
    """Large queries run in a child process that is killed on time (z3 can overrun its own timeout)."""
    monkeypatch.setattr(z3_check, "FORK_ABOVE", 0)
    diff = equivalent_pair()
    start = time.monotonic()
    result = decide(Claim(diff, sp.S.Zero), z3_only(BUDGET))
    assert within(time.monotonic() - start)
    assert result.verdict is Verdict.UNKNOWN and result.reason == f"timeout after {BUDGET} s in z3"
    # and answers from the child are the same as in process: a refutation replays
    refuted = decide(Claim(from_layers([([[1]], None), ([[1]], None)]), sym("x")), Config())
    assert refuted.verdict is Verdict.REFUTED and refuted.counterexample.point["x"] < 0


def test_forked_check_returns_models_and_unsat(monkeypatch):
    x = z3.Real("x")
    sat = z3.Solver()
    sat.add(x > 1, x < 2)
    answer, reason, value = z3_check._forked(sat, Deadline(5), "z3", lambda s, a: str(s.model()[x]))
    assert (answer, reason, value) == (z3.sat, "", "3/2")
    unsat = z3.Solver()
    unsat.add(x > 1, x < 0)
    assert z3_check._forked(unsat, Deadline(5), "z3", None)[0] == z3.unsat


def test_exhaustive_evaluation_stops_at_the_budget():
    """4096 points of a 2,000-deep chain take several seconds; the budget stops them."""
    claim = Claim(chain(2000), sp.Max(0, sym("x")), Domain({"x": IntegerRange(0, 4095)}))
    start = time.monotonic()
    result = decide(claim, Config(timeout_s=0.3))
    assert within(time.monotonic() - start, 0.3)
    assert result.verdict is Verdict.UNKNOWN and result.method == "exhaustive"
    assert result.reason == "timeout after 0.3 s in exhaustive evaluation"


def test_region_enumeration_stops_at_the_budget():
    """A 2-input 2x48x48 network has tens of thousands of regions (seconds to enumerate)."""
    rng = random.Random(1)
    net = from_layers([*_layers(rng, [2, 48, 48]), ([[Fraction(rng.randint(-9, 9), 8) for _ in range(48)]], None)],
                      inputs=["x1", "x2"])
    claim = Claim(net, sp.S.Zero, Domain({"x1": RealInterval(-4, 4), "x2": RealInterval(-4, 4)}), Tolerance(1000))
    start = time.monotonic()
    result = decide(claim, Config(timeout_s=0.2))
    assert within(time.monotonic() - start, 0.2)
    assert result.verdict is Verdict.UNKNOWN and result.reason == "timeout after 0.2 s in region enumeration"


def test_worst_case_and_rounding_stop_at_the_budget():
    diff = equivalent_pair()
    box = Domain({n: RealInterval(-1, 1) for n in diff.inputs})
    start = time.monotonic()
    worst = max_error(diff, sp.S.Zero, box, timeout_s=BUDGET, max_cells=0)
    assert within(time.monotonic() - start)
    assert worst.value is None and worst.reason.startswith(f"timeout after {BUDGET} s in ")
    start = time.monotonic()  # canonicalisation and each rounded claim's 4096 points share 0.5 s
    claim = Claim(chain(2000), sp.Max(0, sym("x")), Domain({"x": IntegerRange(0, 4095)}))
    rounding = round_and_prove(claim, z3_only(BUDGET))
    assert within(time.monotonic() - start)
    assert rounding.result.verdict is Verdict.UNKNOWN and "timeout after" in rounding.result.reason


def test_a_shared_deadline_bounds_several_calls():
    """Config.started() shares one budget: a second decide after expiry returns at once."""
    config = z3_only(0.2).started()
    diff = equivalent_pair()
    first = decide(Claim(diff, sp.S.Zero), config)
    start = time.monotonic()
    second = decide(Claim(diff, sp.S.Zero), config)
    assert first.verdict is second.verdict is Verdict.UNKNOWN
    assert time.monotonic() - start < 0.5
    with pytest.raises(errors.TimeoutExpired):
        closed_form(chain(10), deadline=config.deadline)


def test_cli_timeout_is_the_whole_command(tmp_path, capsys):
    """check on R^3 (z3) with --timeout 1: unknown (exit 3) within 10% + 1 s; simplify whose
    budget ends during the rounding search: exit 3 with the reason, not a bad-input 2."""
    diff = equivalent_pair()
    model = tmp_path / "pair.json"
    model.write_text(dumps(diff))
    start = time.monotonic()
    code = cli.main(["check", str(model), "--target", "0", "--domain", "R^3", "--timeout", "1", "--json"])
    out, err = capsys.readouterr()
    assert within(time.monotonic() - start, 1.0), err
    assert code == 3 and json.loads(out)["reason"].startswith("timeout after 1 s in "), (out, err)
    code = cli.main(["simplify", str(model), "--timeout", "0.01"])
    out, err = capsys.readouterr()
    assert code == 3 and err.startswith("mathcircuits: unknown: timeout after 0.01 s in "), err
