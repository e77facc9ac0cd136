"""Trained models: canonical rounding proves, exact worst-case error, and the check/simplify CLI."""

from __future__ import annotations

import json
import pickle
import random
from fractions import Fraction

import pytest
import sympy as sp

from networks import json_to_circuit
from proofs import cli
from symbolic.circuit import from_layers
from symbolic.circuit_to_canonical import canonicalize
from symbolic.circuit_to_closed_form import closed_form
from symbolic.relu import ReLU, sym
from verify.claim import Claim, Tolerance
from verify.domain import Domain, IntegerRange, RealInterval
from verify.result import Verdict
from verify.rounding import round_and_prove
from verify.worst_case import error_at, max_error

X, X1, X2 = sym("x"), sym("x1"), sym("x2")
BOX = Domain({"x1": RealInterval(-1, 1), "x2": RealInterval(-1, 1)})


def noisy_min(rng: random.Random, noise: float = 1e-4):
    """A 'trained' minimum: rescaled, permuted neurons with float noise and a dead neuron."""
    scales = [rng.uniform(0.3, 3) for _ in range(4)]
    rows = [[1, 0], [-1, 0], [1, -1], [0.5, 0.25]]
    outs = [1, -1, -1, 0]
    order = list(range(4))
    rng.shuffle(order)
    w1 = [[v * scales[i] + rng.uniform(-noise, noise) for v in rows[i]] for i in order]
    w2 = [[outs[i] / scales[i] + rng.uniform(-noise, noise) * (outs[i] != 0) for i in order]]
    return from_layers([(w1, None), (w2, None)])


def test_rescaled_permuted_noisy_min_rounds_to_the_minimum_and_proves():
    for seed in range(5):
        result = round_and_prove(Claim(noisy_min(random.Random(seed)), sp.Min(X1, X2)))
        assert result.proved and result.denominator == 1
        assert closed_form(result.rounded, minmax=True) == sp.Min(X1, X2)


def test_canonical_form_of_a_rescaled_permuted_copy_equals_the_original():
    rng = random.Random(7)
    w1 = [[Fraction(rng.randint(-9, 9), 7) for _ in range(2)] for _ in range(5)]
    b1 = [Fraction(rng.randint(-9, 9), 5) for _ in range(5)]
    w2 = [[Fraction(rng.randint(-9, 9), 3) for _ in range(5)]]
    original = from_layers([(w1, b1), (w2, [1])])
    perm = [3, 0, 4, 1, 2]
    scale = [Fraction(rng.randint(1, 9), rng.randint(1, 9)) for _ in range(5)]
    w1p = [[w * scale[i] for w in w1[i]] for i in perm]
    b1p = [b1[i] * scale[i] for i in perm]
    w2p = [[w2[0][i] / scale[i] for i in perm]]
    assert canonicalize(from_layers([(w1p, b1p), (w2p, [1])])) == canonicalize(original)


def test_rounding_never_loosens_the_claim():
    """A net that is not the minimum stays refuted at every denominator (with a replayed point)."""
    wrong = from_layers([([[1.0, 0], [-1.0, 0], [0, 1.0]], None), ([[1.0, -1.0, -0.5]], None)])
    result = round_and_prove(Claim(wrong, sp.Min(X1, X2)))
    assert not result.proved and result.result.verdict is Verdict.REFUTED
    assert len(result.attempts) > 5 and all(v is not Verdict.PROVED for _, v in result.attempts)


@pytest.mark.parametrize("circuit,target,domain,value", [
    (from_layers([([[1]], None), ([[1]], None)]), X, Domain({"x": RealInterval(-1, 2)}), Fraction(1)),
    (from_layers([([[1], [-1]], None), ([[1, 1]], None)]), X / 2, Domain({"x": RealInterval(-3, 1)}), Fraction(9, 2)),
    (from_layers([([[1]], [Fraction(-1, 3)]), ([[1]], None)]), ReLU(X), Domain({"x": IntegerRange(-5, 5)}),
     Fraction(1, 3)),
    (from_layers([([[1, 0], [-1, 0], [1, -1]], None), ([[1, -1, -1]], None)]), X1, BOX, Fraction(2)),
])
def test_worst_case_error_is_exact_and_attained(circuit, target, domain, value):
    worst = max_error(circuit, target, domain)
    assert worst.exact and worst.value == value
    assert error_at(circuit, target, worst.at) == value
    assert domain.contains(worst.at)


def test_worst_case_error_over_open_box_is_the_sup():
    circuit = from_layers([([[1]], None), ([[1]], None)])
    worst = max_error(circuit, X, Domain({"x": RealInterval(-1, 0, lo_open=True)}))
    assert worst.value == 1


def test_worst_case_error_needs_a_bounded_domain():
    from symbolic import errors

    with pytest.raises(errors.DomainError, match="bounded"):
        max_error(from_layers([([[1]], None), ([[1]], None)]), X, Domain())


def test_unrounded_error_bounds_the_tolerance_claim():
    """The exact max error is the smallest tolerance that can be proved: eps = max is proved, below refuted."""
    net = noisy_min(random.Random(3), noise=1e-3)
    worst = max_error(net, sp.Min(X1, X2), BOX)
    from verify.decide import decide

    assert decide(Claim(net, sp.Min(X1, X2), BOX, Tolerance(worst.value))).verdict is Verdict.PROVED
    below = decide(Claim(net, sp.Min(X1, X2), BOX, Tolerance(worst.value * Fraction(999, 1000))))
    assert below.verdict is Verdict.REFUTED


def _write(tmp_path, circuit, name="net.json"):
    path = tmp_path / name
    json_to_circuit.dump(circuit, path)
    return str(path)


def test_check_cli_round_json(tmp_path, capsys):
    path = _write(tmp_path, noisy_min(random.Random(1)))
    code = cli.main(["check", path, "--target", "min(x1, x2)", "--domain", "[-1, 1]^2", "--round", "--json"])
    data = json.loads(capsys.readouterr().out)
    # the verdict is about the file's network (noisy: refuted); the rounding is a simpler circuit beside it
    assert code == 1 and data["verdict"] == "refuted" and data["counterexample"]
    assert data["rounded_verdict"] == "proved" and data["denominator"] == 1
    assert data["simpler_circuit"].startswith("its rounding to denominators <= 1 satisfies the claim")
    assert data["rounded_expression"] == "Min(x1, x2)"
    assert Fraction(data["max_error"]) > 0 and set(data["max_error_at"]) == {"x1", "x2"}
    assert Fraction(data["rounding_error"]) == Fraction(data["max_error"])


def test_check_cli_unrounded_is_refuted_with_exact_error(tmp_path, capsys):
    path = _write(tmp_path, noisy_min(random.Random(2)))
    code = cli.main(["check", path, "--target", "min(x1, x2)", "--domain", "[-1, 1]^2", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["verdict"] == "refuted" and data["counterexample"]
    assert Fraction(data["max_error"]) < Fraction(1, 1000)


def test_simplify_cli(tmp_path, capsys):
    path = _write(tmp_path, noisy_min(random.Random(4)))
    code = cli.main(["simplify", path, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["rounded_expression"] == "Min(x1, x2)" and data["denominator"] == 1
    assert 0 < Fraction(data["rounding_error"]) <= Fraction(1, 100)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/mathcircuits_model_pwned",))


@pytest.mark.parametrize("name,content,fragment", [
    ("bad.json", b'{"layers": [{"W": [[1, 2]], "b": [0]}, {"W": [[1], [2]]', "JSON"),
    ("nan.json", b'{"layers": [{"W": [[NaN]]}]}', "finite"),
    ("shape.json", b'{"layers": [{"W": [[1, 2]]}, {"W": [[1, 2]]}]}', "layer"),
    ("evil.pt", pickle.dumps(_Evil()), "refus"),
    ("garbage.onnx", b"\x00\x01garbage", "ONNX"),
    ("model.h5", b"", "suffix"),
])
def test_check_cli_rejects_bad_files_in_one_line(tmp_path, capsys, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    code = cli.main(["check", str(path), "--target", "min(x1, x2)", "--domain", "[-1, 1]^2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert fragment.lower() in err.lower(), err
    import os

    assert not os.path.exists("/tmp/mathcircuits_model_pwned")


def test_check_cli_target_variables_must_be_model_inputs(tmp_path, capsys):
    path = _write(tmp_path, noisy_min(random.Random(1)))
    assert cli.main(["check", path, "--target", "min(a, b)"]) == 2
    assert "a, b" in capsys.readouterr().err
    assert cli.main(["check", path, "--target", "min(a, b)", "--inputs", "a,b", "--json"]) == 1


def test_check_cli_unbounded_domain_with_max_error_is_bad_input(tmp_path, capsys):
    path = _write(tmp_path, noisy_min(random.Random(1)))
    assert cli.main(["check", path, "--target", "min(x1, x2)", "--max-error"]) == 2
    assert "bounded" in capsys.readouterr().err
    assert cli.main(["check", path, "--target", "min(x1, x2)", "--domain", "x1 in [1, 0]"]) == 2


def test_check_cli_finite_domain(tmp_path, capsys):
    from networks.library import make_is_even

    path = _write(tmp_path, make_is_even(4))
    assert cli.main(["check", path, "--target", "mod(x, 2)", "--domain", "x in {0..15}", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["method"] == "exhaustive" and data["max_error"] == "0"


def test_a_min_net_trained_a_few_hundred_steps_rounds_and_proves():
    """End to end with torch: train 400 Adam steps (seed 1), import exactly, round, prove on R^2."""
    torch = pytest.importorskip("torch")
    from networks.torch_to_circuit import from_module

    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(2, 3, bias=False), torch.nn.ReLU(), torch.nn.Linear(3, 1, bias=False))
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    for _ in range(400):
        x = torch.rand(256, 2) * 2 - 1
        loss = ((net(x)[:, 0] - x.min(1).values) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-8
    result = round_and_prove(Claim(from_module(net), sp.Min(X1, X2)))
    assert result.proved and closed_form(result.rounded, minmax=True) == sp.Min(X1, X2)


BENCH = __import__("pathlib").Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "models"


@pytest.mark.skipif(not BENCH.exists(), reason="../shared/bench/models is not beside the repository")
@pytest.mark.parametrize("name", ["hand_min", "mlp_w4", "mlp_w8", "mlp_8x8"])
def test_regions_and_z3_agree_on_bench_models(name):
    """Differential: the region method and z3 give the same verdicts and the same exact max error."""
    from verify.decide import Config, decide

    net = json_to_circuit.load(BENCH / f"{name}.json")
    target = sp.Min(X1, X2)
    by_regions = max_error(net, target, BOX)
    by_z3 = max_error(net, target, BOX, max_cells=0)
    assert (by_regions.method, by_z3.method) == ("regions", "z3-optimize")
    assert by_regions.value == by_z3.value
    for eps in (by_regions.value, by_regions.value / 2):
        claim = Claim(net, target, BOX, Tolerance(eps))
        fast, slow = decide(claim), decide(claim, Config(max_cells=0, engine=False))
        assert fast.method == "regions" and slow.method == "z3"
        assert fast.verdict is slow.verdict


def test_regions_refute_on_open_box_with_an_interior_point():
    net = from_layers([([[1]], None), ([[1]], None)])
    domain = Domain({"x": RealInterval(-1, 0, lo_open=True, hi_open=True)})
    from verify.decide import decide

    result = decide(Claim(net, X, domain))
    assert result.verdict is Verdict.REFUTED and result.method == "regions"
    assert -1 < result.counterexample.point["x"] < 0


def _skip_min_mixture(s: float):
    """The article's skip-connection layout computing (1 - s)(a - R(a - b)) + s (b - R(b - a)),
    which is min(a, b) for every s (Equation 1 is s = 1/2), with float weights."""
    from symbolic.circuit import Builder

    b = Builder(["a", "b"])
    r1 = b.relu({"a": 1.0, "b": -1.0})
    r2 = b.relu({"a": -1.0, "b": 1.0})
    return b.build([b.linear({"a": 1 - s, "b": s, r1: -(1 - s), r2: -s}, name="y")])


def test_rounding_keeps_equation_one_instead_of_snapping_it_to_a_simpler_formula():
    A, B = sym("a"), sym("b")
    half = round_and_prove(Claim(_skip_min_mixture(0.5 + 1e-6), sp.Min(A, B)))
    assert half.proved and half.denominator == 2 and len(half.rounded.neurons) == 2
    assert half.attempts[0] == (1, None)  # q = 1 would move a weight by 1/2: skipped
    small = round_and_prove(Claim(_skip_min_mixture(0.03), sp.Min(A, B)))
    assert small.proved and small.denominator == 1 and len(small.rounded.neurons) == 1
