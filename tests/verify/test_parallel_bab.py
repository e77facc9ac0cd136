"""Parallel branch and bound: one verdict and one certificate for 1, 2 and 4 workers and on Dask;
counterexamples replayed exactly; the deadline holds and no worker process outlives a search."""

from __future__ import annotations

import json
import multiprocessing
import time
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from networks.model_files import load_model
from proofs import cli
from symbolic.circuit import from_layers
from symbolic.relu import sym
from verify import branch_and_bound as bab, certificate, parallel_bab
from verify.claim import Claim, Tolerance, unreachable_claim
from verify.claim_to_problem import claim_to_problem
from verify.decide import Config, decide
from verify.domain import Domain, RealInterval
from verify.output_set import Atom, OutputSet
from verify.result import Verdict, replay

MODELS = Path(__file__).resolve().parents[2] / "bench" / "models"
CUBE3 = Domain({n: RealInterval(-1, 1) for n in ("x1", "x2", "x3")})


def bench_claim(name: str, factor: float) -> Claim:
    """``|N - min| <= factor * max_abs_err_f32`` on [-1, 1]^n for a bench model (bench/models/index.json)."""
    info = {m["name"]: m for m in json.loads((MODELS / "index.json").read_text())["models"]}[name]
    net = load_model(str(MODELS / f"{name}.json"))
    eps = F(factor * info["max_abs_err_f32"]).limit_denominator(10**6)
    domain = Domain({n: RealInterval(-1, 1) for n in net.inputs})
    return Claim(net, sp.Min(*[sym(n) for n in net.inputs]), domain, Tolerance(eps))


def random_model(seed: int = 3) -> dict:
    """A 3 x 12 x 12 x 1 ReLU net with float32 weights, in the JSON model format."""
    rng = np.random.default_rng(seed)
    layers = []
    for a, b in ((3, 12), (12, 12), (12, 1)):
        w = (rng.standard_normal((b, a)) / np.sqrt(a)).astype(np.float32).astype(float)
        layers.append({"W": w.tolist(), "b": (rng.standard_normal(b) * 0.3).astype(np.float32).astype(float).tolist()})
    return {"layers": layers, "activations": ["relu", "relu", "linear"], "inputs": ["x1", "x2", "x3"], "outputs": ["y"]}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("parallel") / "net.json"
    path.write_text(json.dumps(random_model()))
    return path


def random_claim(path: Path) -> Claim:
    """|N - min(x1, x2, x3)| <= 13/10 on [-1, 1]^3 (the exact worst case is about 1.2913): about
    70 nodes, 20 sub-boxes."""
    return Claim(load_model(str(path)), sp.Min(*[sym(n) for n in ("x1", "x2", "x3")]), CUBE3, Tolerance(F(13, 10)))


def bump_claim() -> Claim:
    """A narrow bump of height 1 at an interior point: "y > 1/2 is never reached" is false only near
    it, where no frontier box's centre or corner lies, so a sub-search has to find it."""
    c = [F(3, 10), F(-11, 20), F(71, 100)]
    w1 = [[1 if j == i else 0 for j in range(3)] for i in range(3)] + [[-1 if j == i else 0 for j in range(3)] for i in range(3)]
    b1 = [-v for v in c] + list(c)
    net = from_layers([(w1, b1), ([[-12] * 6], [1]), ([[1]], None)])
    return unreachable_claim(net, OutputSet(((Atom((("y", 1),), ">", F(1, 2)),),)), CUBE3)


def no_workers_left() -> bool:
    return not multiprocessing.active_children()


def test_proved_certificates_are_identical_for_one_and_two_workers_and_check():
    problem = claim_to_problem(bench_claim("min4_32", 2.0))
    one = parallel_bab.search(problem, time.monotonic() + 120, workers=1)
    two = parallel_bab.search(problem, time.monotonic() + 120, workers=2)
    assert one.verdict == two.verdict == "proved" and no_workers_left()
    assert json.dumps(one.certificate) == json.dumps(two.certificate)
    assert one.certificate["stats"]["sub_boxes"] >= parallel_bab.FRONTIER
    report = certificate.check(two.certificate)
    assert report.ok, report.problems[:3]
    assert report.leaves == one.stats.leaves == one.certificate["stats"]["leaves"]


def test_four_workers_and_retried_budgets_give_the_same_certificate(model_file, monkeypatch):
    problem = claim_to_problem(random_claim(model_file))
    base = parallel_bab.search(problem, time.monotonic() + 60, workers=1)
    assert base.verdict == "proved" and certificate.check(base.certificate).ok
    monkeypatch.setattr(parallel_bab, "START_NODES", 2)   # every sub-box is searched again, several times
    for workers in (1, 4):
        again = parallel_bab.search(problem, time.monotonic() + 60, workers=workers)
        assert json.dumps(again.certificate) == json.dumps(base.certificate)
        assert again.stats.nodes > base.stats.nodes      # the retried work is counted
    assert no_workers_left()


def test_a_counterexample_in_one_sub_box_refutes_with_any_number_of_workers():
    claim = bump_claim()
    problem = claim_to_problem(claim)
    assert parallel_bab.split_frontier(problem, time.monotonic() + 10, bab.Settings()).found is None
    for workers in (1, 2, 4):
        out = parallel_bab.search(problem, time.monotonic() + 60, workers=workers)
        assert out.verdict == "refuted" and out.certificate is None
        assert claim.domain.contains(out.point) and replay(claim, out.point) is not None
        assert no_workers_left()   # the others were stopped


def test_the_deadline_gives_unknown_with_the_certified_fraction_and_no_stray_processes():
    problem = claim_to_problem(bench_claim("min4_64x64", 2.0))  # about 8 s of search: not done in 0.5 s
    start = time.monotonic()
    out = parallel_bab.search(problem, start + 0.5, workers=2)
    assert time.monotonic() - start < 0.5 + 3.0
    assert out.verdict == "unknown" and out.certificate is None
    assert "sub-boxes undecided" in out.reason and "% of the box certified" in out.reason
    assert 0 <= out.stats.certified_fraction < 1
    assert no_workers_left()


def test_decide_routes_workers_and_keeps_the_sequential_search_by_default(model_file):
    claim = random_claim(model_file)
    parallel = decide(claim, Config(timeout_s=60, workers=2))
    sequential = decide(claim, Config(timeout_s=60))
    assert parallel.verdict is sequential.verdict is Verdict.PROVED and parallel.method == sequential.method == "bab"
    assert "sub-boxes searched apart" in parallel.evidence and "sub_boxes" not in sequential.certificate["stats"]
    with pytest.raises(ValueError, match="workers"):
        Config(workers=0)


def test_dask_gives_the_local_certificate_and_a_clear_error_without_a_scheduler(model_file):
    distributed = pytest.importorskip("distributed")
    problem = claim_to_problem(random_claim(model_file))
    local = parallel_bab.search(problem, time.monotonic() + 60, workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        remote = parallel_bab.search(problem, time.monotonic() + 60, scheduler=c.scheduler_address)
        refuted = parallel_bab.search(claim_to_problem(bump_claim()), time.monotonic() + 60,
                                      scheduler=c.scheduler_address)
    assert json.dumps(remote.certificate) == json.dumps(local.certificate)
    assert refuted.verdict == "refuted" and replay(bump_claim(), refuted.point) is not None
    from symbolic.errors import ClaimError

    with pytest.raises(ClaimError, match="cannot reach the Dask scheduler"):
        parallel_bab.search(problem, time.monotonic() + 60, scheduler="tcp://127.0.0.1:9", connect_timeout_s=0.5)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_claim_check_and_vnnlib_with_workers(capsys, model_file, monkeypatch):
    code, out, _ = run(capsys, "claim", "relu(x1) + relu(x2) + relu(x3)", "--target",
                       "abs(x1)/2 + abs(x2)/2 + abs(x3)/2 + (x1 + x2 + x3)/2", "--domain", "[-1, 1]^3",
                       "--tolerance", "1/100", "--workers", "2", "--json")
    assert code == 0 and json.loads(out)["method"] == "bab"
    code, out, _ = run(capsys, "check", str(model_file), "--target", "min(x1, x2, x3)", "--domain", "[-1, 1]^3",
                       "--tolerance", "13/10", "--workers", "2", "--json")
    facts = json.loads(out)
    assert code == 0 and facts["method"] == "bab" and "sub-boxes searched apart" in facts["evidence"]
    calls, search = [], parallel_bab.search
    monkeypatch.setattr(parallel_bab, "search", lambda *a, **k: calls.append(k["workers"]) or search(*a, **k))
    code, out, _ = run(capsys, "vnnlib", str(model_file), "--input-box", "X_0 in [-1, 1], X_1 in [-1, 1], X_2 in [-1, 1]",
                       "--unsafe", "Y_0 > 31/100", "--workers", "2", "--json")
    assert code == 0 and json.loads(out)["verdict"] == "holds" and calls == [2]
    code, _, err = run(capsys, "check", str(model_file), "--target", "x1", "--workers", "0")
    assert code == 2 and "--workers" in err
    code, _, err = run(capsys, "claim", "relu(x)", "--target", "x", "--scheduler", "ftp://host:1")
    assert code == 2 and "--scheduler" in err
    assert no_workers_left()
