"""The hand-built circuits of the seed material (SEEDS sections A and B) as ``make_*`` builders."""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from networks.compose import compose
from symbolic import errors
from symbolic.circuit import Activation, Builder, Circuit, to_exact
from symbolic.relu import ReLU, sym  # noqa: F401 - ReLU is used by the doctests

Pair = Sequence[str]


def _two(inputs: Pair) -> tuple[str, str]:
    if len(inputs) != 2:
        raise errors.InvalidCircuitError(f"this circuit takes 2 inputs, got {list(inputs)}")
    return inputs[0], inputs[1]


def make_positiveness_detector(x: str = "x") -> Circuit:
    """The positiveness feature ``+(x) = R(x)``: positive exactly when ``x > 0``, and equal to it.

    >>> make_positiveness_detector().to_expr()
    R(x)
    """
    b = Builder([x])
    return b.build([b.relu({x: 1}, name="y")])


def make_negativeness_detector(x: str = "x") -> Circuit:
    """The negativeness feature ``-(x) = R(-x)``: positive exactly when ``x < 0``, equal to ``|x|`` there.

    >>> make_negativeness_detector().to_expr()
    R(-x)
    """
    b = Builder([x])
    return b.build([b.relu({x: -1}, name="y")])


def make_greaterness_detector(inputs: Pair = ("x1", "x2")) -> Circuit:
    """The greaterness feature ``x1 > x2``: ``R(x1 - x2)``, the positiveness detector of ``x1 - x2``.

    >>> make_greaterness_detector().to_expr()
    R(x1 - x2)
    """
    x1, x2 = _two(inputs)
    b = Builder([x1, x2])
    return b.build([b.relu({x1: 1, x2: -1}, name="y")])


def _reconstructor(inputs: Sequence[str], direction: dict[str, object], out: tuple[object, object]) -> Circuit:
    """Hidden pair ``R(z)``, ``R(-z)`` for ``z = direction . inputs``, output ``out[0] R(z) + out[1] R(-z)``."""
    b = Builder(inputs)
    pos = b.relu(direction)
    neg = b.relu({k: -to_exact(v) for k, v in direction.items()})
    return b.build([b.linear({pos: out[0], neg: out[1]}, name="y")])


def make_identity(x: str = "x") -> Circuit:
    """Identity ``x = R(x) - R(-x)``: the positiveness and negativeness detectors, reconstructed
    with output weights ``+1`` and ``-1``. Two hidden neurons are required without biases.

    >>> make_identity().evaluate({'x': -5})
    (Fraction(-5, 1),)
    """
    return _reconstructor([x], {x: 1}, (1, -1))


def make_identity_family(x: str = "x", w1: str = "w1", w2: str = "w2") -> Circuit:
    """The identity family ``(1/w1) R(w1 x) + (1/w2) R(w2 x)``, for symbolic ``w1 > 0 > w2``.

    By the scaling symmetry ``R(c z) = c R(z)`` (c > 0) each term is ``R(x)`` and ``-R(-x)``:
    infinitely many optimal networks compute the identity.

    >>> w1, w2, x = sym('w1'), sym('w2'), sym('x')
    >>> make_identity_family().to_expr() == ReLU(w1*x)/w1 + ReLU(w2*x)/w2
    True
    """
    p1, p2 = sym(w1), sym(w2)
    b = Builder([x])
    h1 = b.relu({x: p1})
    h2 = b.relu({x: p2})
    return b.build([b.linear({h1: 1 / p1, h2: 1 / p2}, name="y")])


def make_negative_identity(x: str = "x") -> Circuit:
    """Negative identity ``-x = -R(x) + R(-x)``: the identity's reconstructor with both signs flipped.

    >>> make_negative_identity().evaluate({'x': 3})
    (Fraction(-3, 1),)
    """
    return _reconstructor([x], {x: 1}, (-1, 1))


def make_absolute_value(x: str = "x") -> Circuit:
    """Absolute value ``|x| = R(x) + R(-x)``: the two detectors summed.

    >>> make_absolute_value().evaluate({'x': -5})
    (Fraction(5, 1),)
    """
    return _reconstructor([x], {x: 1}, (1, 1))


def make_addition(inputs: Pair = ("x1", "x2")) -> Circuit:
    """Addition ``x1 + x2 = R(x1 + x2) - R(-x1 - x2)``: the identity circuit applied to ``x1 + x2``.

    >>> make_addition().evaluate({'x1': 3, 'x2': -5})
    (Fraction(-2, 1),)
    """
    x1, x2 = _two(inputs)
    return _reconstructor([x1, x2], {x1: 1, x2: 1}, (1, -1))


def make_subtraction(inputs: Pair = ("x1", "x2")) -> Circuit:
    """Subtraction ``x1 - x2 = R(x1 - x2) - R(x2 - x1)``: greaterness detectors both ways.

    >>> make_subtraction().evaluate({'x1': 3, 'x2': 5})
    (Fraction(-2, 1),)
    """
    x1, x2 = _two(inputs)
    return _reconstructor([x1, x2], {x1: 1, x2: -1}, (1, -1))


def make_minimum(inputs: Pair = ("x1", "x2")) -> Circuit:
    """Minimum with 3 neurons: ``min(x1, x2) = R(x1) - R(-x1) - R(x1 - x2)``.

    The identity pair rebuilds ``x1``; the greaterness detector ``R(x1 - x2)`` subtracts the
    excess when ``x1 > x2``, leaving ``x2``.

    >>> make_minimum().evaluate({'x1': 3, 'x2': -5})
    (Fraction(-5, 1),)
    """
    x1, x2 = _two(inputs)
    b = Builder([x1, x2])
    h1 = b.relu({x1: 1})
    h2 = b.relu({x1: -1})
    h3 = b.relu({x1: 1, x2: -1})
    return b.build([b.linear({h1: 1, h2: -1, h3: -1}, name="y")])


def make_minimum_two_layer(inputs: Pair = ("x1", "x2")) -> Circuit:
    """The first-version minimum: layer 1 ``R(x1), R(-x1), R(x1 - x2)``, ``m = h1 - h2 - h3``,
    layer 2 ``R(m), R(-m)``, output ``R(m) - R(-m)``. Correct (the second layer is an identity
    circuit on ``m``) but not the smallest.

    >>> make_minimum_two_layer().evaluate({'x1': 3, 'x2': 5})
    (Fraction(3, 1),)
    """
    x1, x2 = _two(inputs)
    b = Builder([x1, x2])
    h = b.dense([x1, x2], [[1, 0], [-1, 0], [1, -1]], names=["h1_1", "h1_2", "h1_3"])
    g = b.dense(h, [[1, -1, -1], [-1, 1, 1]], names=["h2_1", "h2_2"])
    return b.build([b.linear({g[0]: 1, g[1]: -1}, name="y")])


def make_minimum_of_four(inputs: Sequence[str] = ("x1", "x2", "x3", "x4")) -> Circuit:
    """``min(x1, x2, x3, x4) = min(min(x1, x2), min(x3, x4))`` by composing three minimum circuits.

    >>> make_minimum_of_four().evaluate({'x1': 4, 'x2': 2, 'x3': 7, 'x4': -1})
    (Fraction(-1, 1),)
    """
    if len(inputs) != 4:
        raise errors.InvalidCircuitError(f"minimum of four takes 4 inputs, got {list(inputs)}")
    left = make_minimum(inputs[:2])
    right = make_minimum(inputs[2:])
    return compose(make_minimum(), {"x1": left, "x2": right})


def _skip_min(a: str, b: str, neurons: list[dict], out: dict) -> Circuit:
    builder = Builder([a, b])
    names = [builder.relu(w, name=f"R{i}") for i, w in enumerate(neurons, start=1)]
    weights = {a: out.get("a", 0), b: out.get("b", 0)}
    weights.update({n: out.get(n, 0) for n in names})
    return builder.build([builder.linear(weights, name="y")])


def make_equation_one(inputs: Pair = ("a", "b")) -> Circuit:
    """Equation 1 of the article: ``min(a, b) = 0.5 (a + b - R(b - a) - R(a - b))``, in the
    article's model layout: two ReLU neurons ``Linear(2, 1)`` and an output ``Linear(4, 1)`` over
    the concatenation ``[a, b, R1, R2]`` (a skip connection). ``R(b-a) + R(a-b) = |a - b|``.

    >>> make_equation_one().evaluate({'a': 3, 'b': -5})
    (Fraction(-5, 1),)
    """
    a, b = _two(inputs)
    half = sp.Rational(1, 2)
    return _skip_min(a, b, [{b: 1, a: -1}, {a: 1, b: -1}],
                     {"a": half, "b": half, "R1": -half, "R2": -half})


def make_min_via_relu(inputs: Pair = ("a", "b")) -> Circuit:
    """The formula training found: ``min(a, b) = a - R(a - b)`` (a <= b gives a; a > b gives b),
    in the same skip-connection layout with one greaterness neuron.

    >>> make_min_via_relu().to_expr()
    a - R(a - b)
    """
    a, b = _two(inputs)
    return _skip_min(a, b, [{a: 1, b: -1}], {"a": 1, "R1": -1})


def make_wrong_minimum(inputs: Pair = ("x1", "x2")) -> Circuit:
    """A deliberately wrong minimum ``x1 - R(x2 - x1)`` (the greaterness detector reversed).

    >>> make_wrong_minimum().evaluate({'x1': 0, 'x2': 1})
    (Fraction(-1, 1),)
    """
    a, b = _two(inputs)
    return _skip_min(a, b, [{b: 1, a: -1}], {"a": 1, "R1": -1})


def is_even_offsets(bits: int) -> list[int]:
    """The offsets ``2^(n-1), ..., 4, 2, 1, 1`` of the chain ``f_1 o f_1 o f_2 o ... o f_(2^(n-1))``.

    >>> is_even_offsets(4)
    [8, 4, 2, 1, 1]
    """
    if not isinstance(bits, int) or bits < 1:
        raise errors.InvalidCircuitError(f"bits must be a positive integer, got {bits!r}")
    return [2 ** k for k in range(bits - 1, -1, -1)] + [1]


def make_is_even(bits: int = 4, signed: bool = False, x: str = "x") -> Circuit:
    """The article's parity net: ``f = f_1 o f_1 o f_2 o f_4 o ... o f_(2^(n-1))(|x|)`` with
    ``f_b(s) = |s - b| = R(-s + b) + R(s - b)``. It maps ``0..2^n - 1`` to ``x mod 2`` (0 for even).

    Layer layout (for 4 bits exactly the article's ``Sequential`` of widths [1, 2, 2, 2, 2, 2, 1],
    a ReLU after every linear layer, the output too): the first layer computes the pair for
    ``b = 2^(n-1)`` from ``x``; each next ``Linear(2, 2)`` reads the previous pair, whose sum is
    ``s``, with weights ``[[-1, -1], [1, 1]]`` and biases ``[b, -b]``; the output sums the last
    pair. With ``signed=True`` a first pair ``R(x), R(-x)`` computes ``|x|``.

    >>> [make_is_even(4).evaluate({'x': v})[0] for v in range(6)]
    [Fraction(0, 1), Fraction(1, 1), Fraction(0, 1), Fraction(1, 1), Fraction(0, 1), Fraction(1, 1)]
    """
    b = Builder([x])
    layer = 1
    current = [x]
    if signed:
        current = b.dense(current, [[1], [-1]], [0, 0], names=["h1_1", "h1_2"])
        layer = 2
    for offset in is_even_offsets(bits):
        width = len(current)  # the running value s is the sum of `current`
        rows = [[-1] * width, [1] * width]
        current = b.dense(current, rows, [offset, -offset], names=[f"h{layer}_1", f"h{layer}_2"])
        layer += 1
    out = b.add({current[0]: 1, current[1]: 1}, 0, Activation.RELU, name="y")
    return b.build([out])


def make_step(threshold: int = 10, x: str = "x") -> Circuit:
    """The exact integer step ``R(t - x) - R(t - 1 - x) = [x < t]`` on Z: both neurons are active
    below ``t - 1`` (difference 1) and both dead from ``t`` on (difference 0).

    >>> [make_step().evaluate({'x': v})[0] for v in (8, 9, 10, 11)]
    [Fraction(1, 1), Fraction(1, 1), Fraction(0, 1), Fraction(0, 1)]
    """
    b = Builder([x])
    h1 = b.relu({x: -1}, threshold)
    h2 = b.relu({x: -1}, threshold - 1)
    return b.build([b.linear({h1: 1, h2: -1}, name="y")])
