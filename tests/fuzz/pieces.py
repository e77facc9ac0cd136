"""Random parts of fuzz claims: weights, networks, target ASTs, closed-form rewrites and domains."""

from __future__ import annotations

import random
import struct
from fractions import Fraction

from tests.fuzz import names, spec
from tests.fuzz.spec import Abs, All, Any_, Bool, Cases, Cmp, Ind, Lin, Max, Min, Neg, Num, Relu, Var

F = Fraction
ZERO, ONE = F(0), F(1)


def float32(x: float) -> F:
    """The exact rational value of ``x`` rounded to float32 (what a trained weight is)."""
    return F(struct.unpack("f", struct.pack("f", x))[0])


def weight(rng: random.Random, style: str, fan_in: int = 2) -> F:
    """One weight: small, rational, float32 trained-style, big or tiny."""
    if rng.random() < 0.08:
        return ZERO
    if style == "small":
        return F(rng.choice([-3, -2, -1, 1, 1, 2, 3]))
    if style == "rational":
        return F(rng.randint(-12, 12) or 1, rng.randint(1, 9))
    if style == "float32":
        return float32(rng.gauss(0, (2 / fan_in) ** 0.5)) or F(1, 2)
    if style == "big":
        return F(rng.choice([1, -1]) * rng.randint(10 ** 9, 10 ** 15), rng.choice([1, 3, 7, 2 ** 20]))
    if style == "tiny":
        return F(rng.choice([1, -1]) * rng.randint(1, 99), rng.choice([10 ** 12, 2 ** 50, 3 ** 30, 10 ** 20]))
    return weight(rng, rng.choice(["small", "rational", "float32", "big", "tiny"]), fan_in)


def weight_style(rng: random.Random) -> str:
    return rng.choices(["small", "rational", "float32", "big", "tiny", "mixed"], [30, 25, 25, 6, 6, 8])[0]


def layers_net(rng: random.Random, inputs: tuple[str, ...], style: str, out_names: tuple[str, ...] | None = None) -> spec.Net:
    """A dense net as ``from_layers`` builds it (hidden neurons ``h<k>_<i>``), biases or none."""
    depth = rng.choices([1, 2, 3], [45, 45, 10])[0]  # inlined closed forms grow with depth x width
    widths = [rng.randint(1, 3)] + [rng.randint(1, 2) for _ in range(depth - 1)]
    outs = out_names or (rng.choice([n for n in ("y", "out", "y1", "f", "y_0") if n not in inputs]),)
    sizes = [len(inputs), *widths, len(outs)]
    layers, neurons, current = [], [], list(inputs)
    last_relu = rng.random() < 0.15
    for k in range(1, len(sizes)):
        rows = [[weight(rng, style, sizes[k - 1]) for _ in range(sizes[k - 1])] for _ in range(sizes[k])]
        biases = None if rng.random() < 0.35 else [weight(rng, style) if rng.random() < 0.8 else ZERO for _ in rows]
        last = k == len(sizes) - 1
        relu = last_relu if last else True
        # from_layers calls its hidden neurons h<k>_<i>; the oracle's copy gets names of its own
        # when an input already has that name (what the tool does with such a net is its business)
        layer_names = list(outs) if last else [_own(f"h{k}_{i}", inputs) for i in range(1, sizes[k] + 1)]
        layers.append((tuple(tuple(r) for r in rows), None if biases is None else tuple(biases), relu))
        for name, row, b in zip(layer_names, rows, biases or [ZERO] * len(rows)):
            terms = tuple((s, w) for s, w in zip(current, row) if w != 0)
            neurons.append(spec.Neuron(name, terms, b, relu))
        current = layer_names
    return spec.Net(tuple(inputs), tuple(neurons), tuple(outs), rng.choice(outs), tuple(layers))


def _own(name: str, taken) -> str:
    while name in taken:
        name += "_"
    return name


def builder_net(rng: random.Random, inputs: tuple[str, ...], style: str, name_style: str) -> spec.Net:
    """A net written neuron by neuron: skip connections, linear steps, adversarial neuron names."""
    count = rng.randint(1, 5)
    hidden = names.neuron_names(rng, count + 1, inputs, name_style)
    available, neurons = list(inputs), []
    for k, name in enumerate(hidden):
        last = k == len(hidden) - 1
        sources = rng.sample(available, rng.randint(1, min(3, len(available))))
        if last and neurons and neurons[-1].name not in sources:
            sources.append(neurons[-1].name)
        terms = tuple((s, weight(rng, style, len(sources))) for s in sources)
        bias = weight(rng, style) if rng.random() < 0.6 else ZERO
        relu = rng.random() < (0.15 if last else 0.85)
        neurons.append(spec.Neuron(name, tuple((s, c) for s, c in terms if c != 0), bias, relu))
        available.append(name)
    outputs = [hidden[-1]]
    if len(hidden) > 2 and rng.random() < 0.25:
        outputs.insert(0, hidden[-2])  # a second output; the claim is about the last
    return spec.Net(tuple(inputs), tuple(neurons), tuple(outputs), hidden[-1], None)


def random_net(rng: random.Random, inputs: tuple[str, ...], name_style: str, style: str | None = None) -> spec.Net:
    style = style or weight_style(rng)
    if rng.random() < 0.5:
        outs = (names.draw(rng, 1, "text", name_style, set(inputs))[0],) if name_style != "plain" else None
        if outs and any(outs[0] == f"h{k}_{i}" for k in range(1, 4) for i in range(1, 4)):
            outs = None
        return layers_net(rng, inputs, style, outs)
    return builder_net(rng, inputs, style, name_style)


# -- target ASTs --------------------------------------------------------------------------------
def small(rng: random.Random) -> F:
    return F(rng.randint(-6, 6), rng.choice([1, 1, 2, 3, 4]))


def affine(rng: random.Random, inputs, style: str = "rational") -> Lin:
    chosen = rng.sample(list(inputs), rng.randint(1, len(inputs)))
    return Lin(tuple((weight(rng, style) or ONE, Var(n)) for n in chosen), small(rng) if rng.random() < 0.6 else ZERO)


def random_node(rng: random.Random, inputs, depth: int = 2, jumps: bool = False):
    """A random piecewise-linear AST (continuous unless ``jumps``)."""
    if depth <= 0 or rng.random() < 0.25:
        return affine(rng, inputs) if rng.random() < 0.8 else Num(small(rng))
    r = rng.random()
    sub = lambda: random_node(rng, inputs, depth - 1, jumps)  # noqa: E731
    if r < 0.25:
        return Relu(sub())
    if r < 0.4:
        return Abs(sub())
    if r < 0.55:
        return Min(tuple(sub() for _ in range(rng.randint(2, 3))))
    if r < 0.7:
        return Max(tuple(sub() for _ in range(rng.randint(2, 3))))
    if jumps and r < 0.85:
        return Cases(((sub(), random_cond(rng, inputs, 1)), (sub(), Bool(True))))
    if jumps:
        return Lin(((small(rng) or ONE, Ind(random_cond(rng, inputs, 1))),), small(rng))
    return Lin(((small(rng) or ONE, sub()), (small(rng) or ONE, sub())), small(rng))


def random_cond(rng: random.Random, inputs, depth: int = 2):
    """A random condition over continuous quantities."""
    r = rng.random()
    if depth > 0 and r < 0.15:
        return All((random_cond(rng, inputs, depth - 1), random_cond(rng, inputs, depth - 1)))
    if depth > 0 and r < 0.25:
        return Any_((random_cond(rng, inputs, depth - 1), random_cond(rng, inputs, depth - 1)))
    if depth > 0 and r < 0.3:
        return Neg(random_cond(rng, inputs, depth - 1))
    op = rng.choice(["<", "<=", ">", ">=", "==", "!="] if rng.random() < 0.2 else ["<", "<=", ">", ">="])
    return Cmp(op, random_node(rng, inputs, 1), random_node(rng, inputs, 0) if rng.random() < 0.7 else Num(small(rng)))


def rewrite_relu(rng: random.Random, node: Relu):
    """An AST equal to ``node`` = relu(z) everywhere, written another way."""
    z = node.arg
    neg = Lin(((-ONE, z),))
    c = F(rng.choice([2, 3, 5, 7]), rng.choice([1, 2, 3]))
    options = [
        lambda: node,
        lambda: Max((z, Num(ZERO))) if rng.random() < 0.5 else Max((Num(ZERO), z)),
        lambda: Lin(((F(1, 2), z), (F(1, 2), Abs(z)))),
        lambda: Lin(((ONE, z), (ONE, Relu(neg)))),
        lambda: Lin(((ONE, z), (-ONE, Min((z, Num(ZERO)))))),
        lambda: Cases(((z, Cmp(">", z, Num(ZERO))), (Num(ZERO), Bool(True)))),
        lambda: Cases(((z, Cmp(">=", z, Num(ZERO))), (Num(ZERO), Cmp("<", z, Num(ZERO))))),
        lambda: Cases(((Num(ZERO), Cmp("<=", z, Num(ZERO))), (z, Bool(True)))),
        lambda: Lin(((1 / c, Relu(Lin(((c, z),)))),)),
        lambda: Max((z, Num(ZERO), Lin(((F(1, 2), z),)))),
        lambda: Lin(((ONE, Abs(Lin(((F(1, 2), z),)))), (F(1, 2), z))),
    ]
    return rng.choice(options)()


def closed_form(rng: random.Random, net: spec.Net, rewrite: bool = True, continuous: bool = False):
    """The network's own closed form, each ReLU possibly restated (true equality by construction)."""
    if not rewrite:
        return spec.net_to_node(net)

    def again(node):
        # a Piecewise whose condition holds a Piecewise becomes sympy's ITE, which the tool rejects:
        # keep such nesting rare so that most claims reach a verdict
        smooth = continuous or (not spec.is_continuous(node.arg) and rng.random() < 0.9)
        for _ in range(6):
            out = rewrite_relu(rng, node)
            if not smooth or spec.is_continuous(out):
                return out
        return node

    return spec.net_to_node(net, again)


# -- domains --------------------------------------------------------------------------------------
def end_value(rng: random.Random) -> F:
    r = rng.random()
    if r < 0.5:
        return F(rng.randint(-5, 5), rng.choice([1, 1, 2, 3, 4, 8]))
    if r < 0.7:
        return F(rng.randint(-10 ** 6, 10 ** 6), rng.choice([7, 10 ** 3, 2 ** 10]))
    if r < 0.85:
        return F(rng.randint(-9, 9), rng.choice([10 ** 9, 2 ** 40, 3 ** 20]))
    return F(rng.randint(-10 ** 12, 10 ** 12), rng.randint(1, 10 ** 6))


def draw_set(rng: random.Random, bounded: bool = False, finite_ok: bool = True):
    """One variable's set: R, half-bounded, a box side, an integer range, Z or a finite set."""
    kinds = ["R", "half", "box", "box", "point", "ints", "Z", "Zhalf", "finite"]
    weights = [18, 12, 26, 0, 1, 10, 5, 3, 10] if not bounded else [0, 0, 60, 0, 2, 14, 0, 0, 14]
    kind = rng.choices(kinds, weights)[0]
    if not finite_ok and kind in ("ints", "finite", "Z", "Zhalf"):
        kind = "box"
    if kind == "R":
        return spec.REALS
    if kind == "half":
        v = end_value(rng)
        return spec.Real(v, None, rng.random() < 0.5, True) if rng.random() < 0.5 else spec.Real(None, v, True, rng.random() < 0.5)
    if kind == "box":
        a, b = end_value(rng), end_value(rng)
        a, b = (a, b) if a < b else (b, a) if b < a else (a, a + 1)
        return spec.Real(a, b, rng.random() < 0.4, rng.random() < 0.4)
    if kind == "point":
        v = end_value(rng)
        return spec.Real(v, v, False, False)
    if kind == "ints":
        lo = rng.randint(-20, 10)
        return spec.Ints(lo, lo + rng.choice([0, 1, 3, 7, 15, 40, 200, 5000]))
    if kind == "Z":
        return spec.Ints(None, None)
    if kind == "Zhalf":
        v = rng.randint(-5, 5)
        return spec.Ints(v, None) if rng.random() < 0.5 else spec.Ints(None, v)
    count = rng.randint(1, 6)
    if rng.random() < 0.5:
        return spec.Finite(tuple(sorted({F(rng.randint(-8, 8)) for _ in range(count)})))
    return spec.Finite(tuple(sorted({end_value(rng) for _ in range(count)})))


def draw_domain(rng: random.Random, inputs, bounded: bool = False, finite_ok: bool = True) -> tuple:
    """Per-input sets; R is usually left unlisted (the tool's default), sometimes listed."""
    out = []
    for name in inputs:
        s = draw_set(rng, bounded, finite_ok)
        if s != spec.REALS or rng.random() < 0.2:
            out.append((name, s))
    return tuple(out)


def domain_sup(s, lower: bool = False) -> F | None:
    """``sup`` (or ``inf`` when ``lower``) of a set; None when infinite."""
    if isinstance(s, spec.Finite):
        return s.values[0] if lower else s.values[-1]
    end = s.lo if lower else s.hi
    return None if end is None else F(end)
