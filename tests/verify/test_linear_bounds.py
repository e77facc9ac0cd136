"""Bounds of the engine: float guides contain every sampled value; sound bounds never exceed the
exact rational bound of the certificate format (python-flint) nor any sampled value."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from symbolic.circuit import Builder, from_layers
from verify import exact_bounds, linear_bounds as lb, rigorous_bounds as rb
from verify.circuit_to_layers import circuit_to_layers


def random_net(rng: np.random.Generator, sizes, skip: bool = False):
    """A dense ReLU net with float32 weights (exact binary rationals); optional skip connection."""
    if not skip:
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            W = (rng.standard_normal((b, a)) / np.sqrt(a)).astype(np.float32).astype(float)
            bias = (rng.standard_normal(b) * 0.3).astype(np.float32).astype(float)
            layers.append((W.tolist(), bias.tolist()))
        return from_layers(layers)
    b = Builder([f"x{i + 1}" for i in range(sizes[0])])
    first = b.dense(b.inputs, rng.standard_normal((sizes[1], sizes[0])).astype(np.float32).tolist(), prefix="a")
    second = b.dense(first + list(b.inputs), rng.standard_normal((sizes[1], sizes[1] + sizes[0])).astype(np.float32).tolist(),
                     prefix="c")
    out = b.linear({n: float(np.float32(w)) for n, w in zip(second + first, rng.standard_normal(2 * sizes[1]))}, name="y")
    return b.build([out])


def random_boxes(rng, n: int, B: int):
    lo = rng.uniform(-1, 0.5, (B, n))
    return lo, lo + rng.uniform(0.05, 1, (B, n))


def samples(rng, lo, hi, count=200):
    return lo[:, None, :] + rng.random((lo.shape[0], count, lo.shape[1])) * (hi - lo)[:, None, :]


CASES = [((2, 5, 1), False), ((3, 6, 4, 1), False), ((1, 4, 4, 4, 1), False), ((2, 5, 1), True), ((3, 8, 8, 2), False)]


@pytest.mark.parametrize("sizes,skip", CASES)
def test_levels_follow_skip_connections_and_forward_matches_exact(sizes, skip):
    rng = np.random.default_rng(sum(sizes))
    net = random_net(rng, sizes, skip)
    layers = circuit_to_layers(net)
    for a in net.assignments:
        level = layers.position[a.name][0]
        assert level == 1 + max(layers.position[s][0] for s in a.sources)
    x = rng.uniform(-1, 1, (5, sizes[0]))
    exact = [net.evaluate(dict(zip(net.inputs, map(Fraction, row)))) for row in x.tolist()]
    assert np.allclose(layers.forward(x), np.array(exact, dtype=float))


@pytest.mark.parametrize("sizes,skip", CASES)
def test_float_bounds_contain_every_sampled_value(sizes, skip):
    rng = np.random.default_rng(1 + sum(sizes))
    layers = circuit_to_layers(random_net(rng, sizes, skip))
    lo, hi = random_boxes(rng, sizes[0], 6)
    pts = samples(rng, lo, hi)
    for all_rows in (False, True):
        nb = lb.node_bounds(layers, lo, hi, all_rows=all_rows)
        values = layers.forward_all(pts.reshape(-1, sizes[0]))
        for k, lv in enumerate(layers.levels, start=1):
            pre = lv.bias + sum(values[b.source] @ b.weights.T for b in lv.blocks)
            pre = pre.reshape(lo.shape[0], -1, lv.size)
            assert (pre >= nb.lower[k - 1][:, None, :] - 1e-9).all()
            assert (pre <= nb.upper[k - 1][:, None, :] + 1e-9).all()
        out = np.eye(len(layers.outputs))
        value, A, c = lb.objective_lower(layers, nb, out, np.zeros((len(out), sizes[0])), np.zeros(len(out)))
        y = layers.forward(pts.reshape(-1, sizes[0])).reshape(lo.shape[0], -1, len(out))
        assert (y.transpose(2, 0, 1) >= value[:, :, None] - 1e-9).all()
        # the affine minorant A x + c is below the network at every sample
        lin = np.einsum("mbn,bsn->mbs", A, pts) + c[:, :, None]
        assert (y.transpose(2, 0, 1) >= lin - 1e-9).all()


def _exact_box(lo, hi):
    return [(Fraction(round(a, 4)), Fraction(round(b, 4))) for a, b in zip(lo, hi)]


@pytest.mark.parametrize("sizes,skip", CASES)
def test_sound_bound_is_below_the_exact_format_bound_and_every_sample(sizes, skip):
    """The outward-rounded bound never exceeds the certificate format's exact bound (flint), with
    random phases, optimised-style slopes and split multipliers; nor any sampled value."""
    rng = np.random.default_rng(2 + sum(sizes))
    net = random_net(rng, sizes, skip)
    layers = circuit_to_layers(net)
    n = sizes[0]
    lo, hi = random_boxes(rng, n, 4)
    boxes = [_exact_box(a, b) for a, b in zip(lo, hi)]
    la = np.array([rb.float_enclosure([x for x, _ in box])[0] for box in boxes])
    hb = np.array([rb.float_enclosure([y for _, y in box])[1] for box in boxes])
    relus = layers.relu_names
    phase_maps = [{r: int(rng.choice([-1, 1])) for r in relus if rng.random() < 0.15} for _ in boxes]
    phases = tuple(np.array([[pm.get(name, 0) for name in lv.names] for pm in phase_maps], dtype=np.int8)
                   for lv in layers.levels)
    sb = rb.sound_bounds(layers, la, hb, phases)
    coef = float(np.float32(rng.standard_normal()))
    inco = rng.standard_normal(n).astype(np.float32).astype(float)
    alpha = {k: np.full((1, len(boxes), lv.size), 0.375) for k, lv in enumerate(layers.levels, start=1)}
    beta = {k: (np.where(phases[k - 1] != 0, 0.5, 0.0) * -phases[k - 1])[None] for k in range(1, len(layers.levels) + 1)}
    k0, i0 = layers.outputs[0]
    rows = {0: np.broadcast_to(inco, (1, len(boxes), n)).copy(), k0: np.zeros((1, len(boxes), layers.width(k0)))}
    rows[k0][0, :, i0] = coef
    for use_alpha, use_beta in ((False, False), (True, True)):
        value = rb.objective_lower(layers, sb, rows, np.full((1, len(boxes)), 0.25),
                                   alpha if use_alpha else None, beta if use_beta else None)[0]
        for b, box in enumerate(boxes):
            node = exact_bounds.exact_node(layers, box, phase_maps[b])
            if node.contradiction:
                continue
            pre = {name: Fraction(-0.5) * s for name, s in phase_maps[b].items()} if use_beta else None
            slopes = {name: Fraction(0.375) for name in relus} if use_alpha else None
            exact = exact_bounds.exact_lower(layers, node, [Fraction(coef)], [Fraction(v) for v in inco],
                                             Fraction(1, 4), pre, slopes)
            assert Fraction(value[b]) <= Fraction(int(exact.p), int(exact.q))
            assert Fraction(value[b]) >= Fraction(int(exact.p), int(exact.q)) - Fraction(1, 10**6)
    # and below sampled values of the objective (no phases: every point of the box is in the leaf)
    sb0 = rb.sound_bounds(layers, la, hb)
    value = rb.objective_lower(layers, sb0, rows, np.full((1, len(boxes)), 0.25))[0]
    pts = samples(rng, la, hb)
    y = layers.forward(pts.reshape(-1, n)).reshape(len(boxes), -1, len(layers.outputs))
    objective = coef * y[:, :, 0] + pts @ inco + 0.25
    assert (objective >= value[:, None] - 1e-12).all()


def test_sound_bound_pays_for_rounding_where_floats_lose_digits():
    """Weights and box ends that are not floats of equal magnitude: the sound bound stays below the
    exact one although floats cancel catastrophically (x + 1e16 - 1e16)."""
    net = from_layers([([[1.0], [1e16]], [0.0, 0.0]), ([[1.0, 1.0]], [-1e16])])
    layers = circuit_to_layers(net)
    box = [(Fraction(1, 3), Fraction(2, 3))]
    la, _ = rb.float_enclosure([Fraction(1, 3)])
    _, hb = rb.float_enclosure([Fraction(2, 3)])
    sb = rb.sound_bounds(layers, la[None], hb[None])
    rows = {layers.outputs[0][0]: np.ones((1, 1, 1))}
    value = rb.objective_lower(layers, sb, rows, np.zeros((1, 1)))[0, 0]
    exact = exact_bounds.exact_lower(layers, exact_bounds.exact_node(layers, box, {}), [Fraction(1)], [Fraction(0)], Fraction(0))
    assert Fraction(value) <= Fraction(int(exact.p), int(exact.q))


def test_exact_path_refuses_non_float_weights_in_the_float_sound_bounds():
    layers = circuit_to_layers(from_layers([([[Fraction(1, 3)]], None)]))
    assert not layers.exact_floats
    with pytest.raises(ValueError):
        rb.sound_bounds(layers, np.zeros((1, 1)), np.ones((1, 1)))
