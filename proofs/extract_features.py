"""What each neuron of a trained network does for its extracted circuit, how much of the output it carries, and the facts of an extraction."""

from __future__ import annotations

import dataclasses
import itertools
from fractions import Fraction

import numpy as np
import sympy as sp

from symbolic.circuit import Activation, Circuit
from symbolic.circuit_to_canonical import canonicalize
from symbolic.circuit_to_features import name_features
from verify.network_bounds import forward
from verify.simplification import Simplified

#: A surviving neuron is said to serve a neuron of C when their activations over the sample
#: points correlate at least this well (a description, never a proof).
MATCH = 0.9
LINEAR = "linear part"
#: Sampled pre-activations within this fraction of their size of one sign: "nearly" active or dead.
NEARLY = 0.05
DEAD = "dead on the domain"


@dataclasses.dataclass(frozen=True)
class NeuronRole:
    """Neuron ``neuron`` of N (at ``depth``) serves ``feature`` of C; ``how`` says why."""

    neuron: str
    depth: int
    feature: str
    how: str

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def samples(box, count: int = 441, seed: int = 0) -> dict[str, np.ndarray]:
    """A grid of the box (1-2 inputs) or ``count`` seeded uniform points in it (more inputs)."""
    names = list(box)
    if len(names) <= 2:
        side = int(round(count ** (1 / max(len(names), 1))))
        axes = [np.linspace(float(box[n][0]), float(box[n][1]), side) for n in names]
        grid = np.meshgrid(*axes, indexing="ij")
        return {n: g.ravel() for n, g in zip(names, grid)}
    rng = np.random.default_rng(seed)
    return {n: rng.uniform(float(box[n][0]), float(box[n][1]), count) for n in names}


def _correlation(u: np.ndarray, v: np.ndarray) -> float:
    u, v = u - u.mean(), v - v.mean()
    norm = float(np.linalg.norm(u) * np.linalg.norm(v))
    return float(u @ v) / norm if norm > 0 else 0.0


def neuron_roles(network: Circuit, simplified: Simplified, circuit: Circuit, box) -> list[NeuronRole]:
    """Every hidden ReLU neuron of ``network`` with the feature of ``circuit`` it serves."""
    points = samples(box)
    named = {f.neuron: f.description for f in name_features(circuit)}
    c_values = forward(circuit, points)
    s_pre: dict = {}
    s_values = forward(simplified.circuit, points, pre=s_pre)
    survivors = [b.name for b in simplified.circuit.neurons
                 if b.activation is Activation.RELU and b.name not in simplified.circuit.outputs]
    fate = simplified.fate()
    mirrored = {st.into for st in simplified.steps if st.kind == "mirror"}
    depth = network.depth()
    roles = []
    for a in network.neurons:
        if a.name in network.outputs or a.activation is not Activation.RELU:
            continue
        name, path = a.name, []
        while fate.get(name) is not None and fate[name].kind in ("merge", "mirror") and name not in path:
            path.append(name)
            name = fate[name].into
        step = fate.get(name)
        merged = f" (merged into {name})" if path else ""
        mirror = name in mirrored or any(fate[p].kind == "mirror" for p in path)
        roles.append(NeuronRole(a.name, depth[a.name], *_role(step, name, merged, mirror, s_pre, s_values,
                                                                c_values, circuit, named, survivors)))
    return roles


def _role(step, name, merged, mirror, s_pre, s_values, c_values, circuit, named, survivors) -> tuple[str, str]:
    """``(feature, how)`` for a neuron whose merge chain ends at ``name`` with ``step``."""
    if step is not None and step.kind == "dead":
        if step.change == 0:
            return DEAD, f"its pre-activation is <= 0 on the domain{merged}"
        if step.cost == 0 and mirror:
            return LINEAR, f"with its mirror image rebuilds a linear function, R(z) - R(-z) = z{merged}"
        if step.cost == 0:
            return "unexplained", f"nothing reads it any more: its outgoing weights cancel{merged}"
        if mirror:
            return LINEAR, (f"with its mirror image rebuilds a linear function{merged}; the ReLU left over was "
                            f"removed, moving the output by at most {_short(step.cost)}")
        return "unexplained", f"removed{merged}: moves the output by at most {_short(step.cost)}"
    if step is not None and step.kind == "linear":
        return LINEAR, (f"R(z) = z on the domain{merged}" if step.change == 0 else
                        f"R(z) = z up to {_short(step.change)}{merged}")
    best, score = None, 0.0
    for b in circuit.neurons:
        if b.activation is Activation.RELU and b.name not in circuit.outputs:
            r = abs(_correlation(s_values[name], c_values[b.name]))
            if r > score:
                best, score = b.name, r
    if best is not None and score >= MATCH:
        return f"{best}: {named.get(best, 'neuron')}", f"activation correlates {score:.3f} with {best}{merged}"
    z = s_pre[name]
    size = float(np.max(np.abs(z))) or 1.0
    if mirror or any(t != name and _correlation(z, s_pre[t]) <= -0.99 for t in survivors):
        return LINEAR, f"with its mirror image rebuilds a linear function, R(z) - R(-z) = z{merged}"
    if float(np.min(z)) >= -NEARLY * size:
        return LINEAR, f"active on nearly all the domain (its smallest sampled pre-activation is {float(np.min(z)):.3g}){merged}"
    if float(np.max(z)) <= NEARLY * size:
        return "unexplained", f"nearly dead on the domain (largest sampled pre-activation {float(np.max(z)):.3g}){merged}"
    return "unexplained", f"no neuron of C matches (best correlation {score:.2f}){merged}"


def output_shares(network: Circuit, roles, box) -> dict[str, float]:
    """Each feature's share of N's output: the mean |N - N with that feature's neurons removed| over
    sample points, normalised to sum to 1 (measured in floating point; a description)."""
    points = samples(box)
    full = forward(network, points)[network.output]
    groups: dict[str, set] = {}
    for role in roles:
        groups.setdefault(role.feature, set()).add(role.neuron)
    effect = {label: float(np.mean(np.abs(full - forward(network, points, frozenset(names))[network.output])))
              for label, names in groups.items()}
    total = sum(effect.values())
    return {label: (value / total if total > 0 else 0.0) for label, value in sorted(effect.items())}


def family_key(circuit: Circuit, target: sp.Basic) -> str:
    """The canonical text of ``circuit`` minimised over the input permutations that leave
    ``target`` unchanged (for ``min(x1, x2)``: both orders)."""
    inputs = circuit.inputs
    symbols = {n: sp.Symbol(n, real=True) for n in inputs}
    best = None
    for perm in itertools.permutations(inputs):
        mapping = dict(zip(inputs, perm))
        moved = target.xreplace({symbols[a]: symbols[b] for a, b in mapping.items() if a in symbols})
        if moved != target and sp.simplify(moved - target) != 0:
            continue
        renamed = circuit.renamed(mapping) if any(a != b for a, b in mapping.items()) else circuit
        renamed = dataclasses.replace(renamed, inputs=inputs)
        text = str(canonicalize(renamed))
        best = text if best is None or text < best else best
    return best or str(canonicalize(circuit))


def extraction_facts(ex) -> dict:
    """The JSON-ready facts of an :class:`proofs.extract.Extraction`."""
    from symbolic.circuit_to_closed_form import closed_form
    from symbolic.printing import show

    claim, network = ex.claim, ex.claim.circuit
    out = {
        "statement": claim.statement(),
        "domain": claim.domain.describe(network.inputs),
        "network_neurons": len([a for a in network.neurons if a.activation is Activation.RELU]),
        "found": ex.found,
        "circuit": None if ex.circuit is None else str(ex.circuit),
        "circuit_relus": None if ex.circuit is None else len(ex.circuit.neurons),
        "closed_form": None,
        "verdict": ex.result.verdict.value,
        "method": ex.result.method,
        "reason": ex.result.reason,
        "certificate": ex.result.certificate is not None,
        "attempts": [{"budget": _short(a.budget), "relus": a.relus, "proved_bound": _short(a.bound),
                      "rounded_verdict": a.verdict, "denominator": a.denominator,
                      "relus_after_rounding": a.relus_after_rounding} for a in ex.attempts],
        "elapsed_s": round(ex.elapsed_s, 3),
    }
    if ex.circuit is not None:
        try:
            out["closed_form"] = show(closed_form(ex.circuit, minmax=True))
        except Exception as exc:  # noqa: BLE001 - a closed form beyond the inlining limits is skipped
            out["closed_form"] = f"skipped: {exc}"
    if ex.simplified is not None:
        out["steps"] = [s.describe() for s in ex.simplified.steps]
        out["steps_bound"] = str(ex.simplified.bound)
    d = ex.distance
    if d is not None:
        out.update({"distance": None if d.value is None else str(d.value),
                    "distance_decimal": None if d.value is None else f"{float(d.value):.6g}",
                    "distance_at": None if d.at is None else {k: str(v) for k, v in d.at.items()},
                    "distance_method": d.method,
                    "distance_bounds": None if d.value is not None else
                    [None if d.lower is None else str(d.lower), None if d.upper is None else str(d.upper)]})
    if ex.proof is not None:
        out.update({"distance_proof": ex.proof.verdict.value, "distance_proof_method": ex.proof.method,
                    "distance_certificate": ex.proof.certificate is not None})
    out["features"] = [r.to_json() for r in ex.features]
    out["shares"] = {k: round(v, 4) for k, v in ex.shares.items()}
    out["family"] = ex.family_key or None
    return out


def _short(value: Fraction) -> str:
    if value == 0 or value.denominator == 1 or len(str(value)) <= 12:
        return str(value)
    return f"{float(value):.3g}"
