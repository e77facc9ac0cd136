"""Plain descriptions of fuzz claims (network, target AST, domain, kind) and their CLI text; no tool imports."""

from __future__ import annotations

import dataclasses
import random
from fractions import Fraction

# -- networks ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Neuron:
    """``name = relu?(sum(coeff * source) + bias)``."""

    name: str
    terms: tuple[tuple[str, Fraction], ...]
    bias: Fraction
    relu: bool


@dataclasses.dataclass(frozen=True)
class Net:
    """A straight-line program; ``layers`` is set when the tool builds it with ``from_layers``
    (``(rows, biases or None, relu)`` per layer), otherwise it is built neuron by neuron."""

    inputs: tuple[str, ...]
    neurons: tuple[Neuron, ...]
    outputs: tuple[str, ...]
    output: str
    layers: tuple | None = None


# -- target ASTs: numbers ------------------------------------------------------------------------
class Node:
    """A number-valued expression the fuzzer owns (its meaning is defined by the oracle)."""


class Cond:
    """A condition (boolean-valued expression)."""


@dataclasses.dataclass(frozen=True)
class Num(Node):
    value: Fraction


@dataclasses.dataclass(frozen=True)
class Var(Node):
    name: str


@dataclasses.dataclass(frozen=True)
class Lin(Node):
    """``sum(c * node) + const``."""

    terms: tuple[tuple[Fraction, Node], ...]
    const: Fraction = Fraction(0)


@dataclasses.dataclass(frozen=True)
class Relu(Node):
    arg: Node


@dataclasses.dataclass(frozen=True)
class Abs(Node):
    arg: Node


@dataclasses.dataclass(frozen=True)
class Min(Node):
    args: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Max(Node):
    args: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Cases(Node):
    """The value of the first piece whose condition holds; undefined when none holds."""

    pieces: tuple[tuple[Node, Cond], ...]


@dataclasses.dataclass(frozen=True)
class Ind(Node):
    """1 where the condition holds, else 0."""

    cond: Cond


# -- conditions -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Cmp(Cond):
    op: str  # < <= > >= == !=
    left: Node
    right: Node


@dataclasses.dataclass(frozen=True)
class All(Cond):
    args: tuple[Cond, ...]


@dataclasses.dataclass(frozen=True)
class Any_(Cond):
    args: tuple[Cond, ...]


@dataclasses.dataclass(frozen=True)
class Neg(Cond):
    arg: Cond


@dataclasses.dataclass(frozen=True)
class Bool(Cond):
    value: bool


def var_names(node) -> set[str]:
    """The variables an AST reads.

    >>> sorted(var_names(Lin(((Fraction(1), Var('b')), (Fraction(2), Relu(Var('a')))))))
    ['a', 'b']
    """
    if isinstance(node, Var):
        return {node.name}
    out: set[str] = set()
    for child in children(node):
        out |= var_names(child)
    return out


def children(node) -> list:
    """The direct sub-expressions of ``node`` (numbers and conditions)."""
    if isinstance(node, Lin):
        return [n for _, n in node.terms]
    if isinstance(node, (Relu, Abs, Neg)):
        return [node.arg]
    if isinstance(node, (Min, Max, All, Any_)):
        return list(node.args)
    if isinstance(node, Cases):
        return [x for piece in node.pieces for x in piece]
    if isinstance(node, Ind):
        return [node.cond]
    if isinstance(node, Cmp):
        return [node.left, node.right]
    return []


def has_cases(node) -> bool:
    """Whether a Cases node (which may be undefined somewhere) occurs in ``node``."""
    return isinstance(node, Cases) or any(has_cases(c) for c in children(node))


def is_continuous(node) -> bool:
    """Whether ``node`` uses only continuous constructs (no Cases, Ind)."""
    return not isinstance(node, (Cases, Ind)) and all(is_continuous(c) for c in children(node))


# -- domains ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Real:
    """A real interval (``None`` ends infinite; infinite ends are open)."""

    lo: Fraction | None = None
    hi: Fraction | None = None
    lo_open: bool = True
    hi_open: bool = True


@dataclasses.dataclass(frozen=True)
class Ints:
    """Integers ``lo..hi`` (``None`` ends unbounded)."""

    lo: int | None = None
    hi: int | None = None


@dataclasses.dataclass(frozen=True)
class Finite:
    values: tuple[Fraction, ...]


REALS = Real()


# -- claims ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Eq:
    """N = f."""


@dataclasses.dataclass(frozen=True)
class Tol:
    """|N - f| <= eps."""

    eps: Fraction


@dataclasses.dataclass(frozen=True)
class Pred:
    """(N op threshold) <=> condition."""

    op: str
    threshold: Fraction


@dataclasses.dataclass(frozen=True)
class Case:
    """One fuzz claim. ``network`` is a Net (built as a Circuit) or a Node (compiled from text by
    the tool); ``domain`` lists some inputs (the rest range over R). ``expect`` is the truth when
    known by construction; ``worst`` the exact sup of |N - f| when known (worst-case claims)."""

    index: int
    category: str
    route: str  # api | text | cli | worst
    names: str  # plain | internal | odd
    inputs: tuple[str, ...]
    network: Net | Node
    target: Node | Cond
    domain: tuple[tuple[str, object], ...]
    kind: Eq | Tol | Pred
    expect: bool | None = None
    worst: Fraction | None = None
    note: str = ""

    def set_of(self, name: str):
        return dict(self.domain).get(name, REALS)

    def describe(self) -> str:
        """One line: network, kind, target, domain (text syntax)."""
        net = self.network if isinstance(self.network, Node) else net_to_node(self.network)
        n, t = text(net), text(self.target)
        kind = self.kind
        body = (f"N = {t}" if isinstance(kind, Eq) else f"|N - ({t})| <= {kind.eps}"
                if isinstance(kind, Tol) else f"(N {kind.op} {kind.threshold}) <=> ({t})")
        return f"N({', '.join(self.inputs)}) = {n}; claim {body} on {domain_text(self)}"


def net_to_node(net: Net, rewrite=None) -> Node:
    """The network's output inlined into one AST (``rewrite(relu_node)`` may restate each ReLU)."""
    env: dict[str, Node] = {name: Var(name) for name in net.inputs}
    for n in net.neurons:
        pre = Lin(tuple((c, env[s]) for s, c in n.terms), n.bias)
        node = Relu(pre) if n.relu else pre
        env[n.name] = rewrite(node) if (rewrite and n.relu) else node
    return env[net.output]


# -- text -------------------------------------------------------------------------------------
def number_text(v: Fraction, rng: random.Random | None = None) -> str:
    """An exact literal for ``v`` such as ``3``, ``(-1/3)``, ``0.125`` or ``1.5e-3``.

    >>> number_text(Fraction(-1, 3)), number_text(Fraction(5))
    ('(-1/3)', '5')
    """
    if v.denominator == 1:
        return f"({v.numerator})" if v < 0 else str(v.numerator)
    if rng is not None and rng.random() < 0.3:
        q, twos, fives = v.denominator, 0, 0
        while q % 2 == 0:
            q, twos = q // 2, twos + 1
        while q % 5 == 0:
            q, fives = q // 5, fives + 1
        if q == 1 and max(twos, fives) <= 60:
            digits = max(twos, fives)
            scaled = abs(v.numerator) * 10 ** digits // v.denominator
            body = f"{scaled}e-{digits}" if rng.random() < 0.5 else _decimal(scaled, digits)
            return f"(-{body})" if v < 0 else body
    return f"({v.numerator}/{v.denominator})"


def _decimal(scaled: int, digits: int) -> str:
    s = str(scaled).rjust(digits + 1, "0")
    return f"{s[:-digits]}.{s[-digits:]}"


_CMP_ALIASES = {"<=": ["<=", "≤"], ">=": [">=", "≥"], "!=": ["!=", "≠"]}


def text(node, rng: random.Random | None = None) -> str:  # noqa: C901 - one case per node
    """The parser's syntax for an AST (``rng`` picks among equivalent spellings).

    >>> text(Cases(((Var('x'), Cmp('>', Var('x'), Num(Fraction(0)))), (Num(Fraction(1)), Bool(True)))))
    'piecewise((x, (x) > (0)), (1, True))'
    """
    pick = (lambda options: options[0]) if rng is None else rng.choice
    if isinstance(node, Num):
        return number_text(node.value, rng)
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Lin):
        parts = [f"{number_text(c, rng)}*({text(n, rng)})" if c != 1 else f"({text(n, rng)})"
                 for c, n in node.terms]
        if node.const != 0 or not parts:
            parts.append(number_text(node.const, rng))
        return " + ".join(parts)
    if isinstance(node, Relu):
        return f"{pick(['relu', 'R', 'ReLU'])}({text(node.arg, rng)})"
    if isinstance(node, Abs):
        return f"{pick(['abs', 'Abs'])}({text(node.arg, rng)})"
    if isinstance(node, (Min, Max)):
        name = ("min" if isinstance(node, Min) else "max")
        name = pick([name, name.capitalize()])
        return f"{name}({', '.join(text(a, rng) for a in node.args)})"
    if isinstance(node, Cases):
        pieces = node.pieces
        if len(pieces) == 2 and pieces[1][1] == Bool(True) and pick([False, True]):
            return f"if({text(pieces[0][1], rng)}, {text(pieces[0][0], rng)}, {text(pieces[1][0], rng)})"
        return "piecewise(" + ", ".join(f"({text(v, rng)}, {text(c, rng)})" for v, c in pieces) + ")"
    if isinstance(node, Ind):
        return f"[{text(node.cond, rng)}]"
    if isinstance(node, Cmp):
        op = pick(_CMP_ALIASES.get(node.op, [node.op]))
        return f"({text(node.left, rng)}) {op} ({text(node.right, rng)})"
    if isinstance(node, (All, Any_)):
        word = pick(["and", "&"]) if isinstance(node, All) else pick(["or", "|"])
        return f" {word} ".join(f"({text(a, rng)})" for a in node.args)
    if isinstance(node, Neg):
        return f"{pick(['not ', '~'])}({text(node.arg, rng)})"
    if isinstance(node, Bool):
        return pick(["True", "true"]) if node.value else pick(["False", "false"])
    raise TypeError(f"not an AST node: {node!r}")


def set_text(s, rng: random.Random | None = None) -> str:
    """The domain parser's syntax for one variable's set.

    >>> set_text(Real(Fraction(0), None, False, True)), set_text(Ints(0, 3)), set_text(Ints(None, 2))
    ('[0, oo)', '{0..3}', 'Z ∩ (-oo, 2]')
    """
    pick = (lambda options: options[0]) if rng is None else rng.choice
    if isinstance(s, Finite):
        return "{" + ", ".join(number_text(v, rng) for v in s.values) + "}"
    if isinstance(s, Ints):
        if s.lo is None and s.hi is None:
            return pick(["Z", "ℤ"])
        if s.lo is not None and s.hi is not None:
            return f"{{{s.lo}..{s.hi}}}"
        inner = Real(None if s.lo is None else Fraction(s.lo), None if s.hi is None else Fraction(s.hi),
                     s.lo is None, s.hi is None)
        return f"Z {pick(['∩', '&'])} {set_text(inner, rng)}"
    lo = f"-{pick(['oo', 'inf', '∞'])}" if s.lo is None else number_text(s.lo, rng)
    hi = pick(["oo", "inf", "+oo"]) if s.hi is None else number_text(s.hi, rng)
    if s.lo is None and s.hi is None:
        return pick(["R", "ℝ", f"({lo}, {hi})"])
    return f"{'(' if s.lo_open else '['}{lo}, {hi}{')' if s.hi_open else ']'}"


def domain_text(case: Case, rng: random.Random | None = None) -> str:
    """The whole domain as ``--domain`` text: ``R^n``, or one clause per listed variable."""
    listed = [(n, s) for n, s in case.domain if s != REALS]
    if not listed:
        return "R" if len(case.inputs) == 1 else f"R^{len(case.inputs)}"
    clauses = []
    for name, s in listed:
        if isinstance(s, Real) and rng is not None and rng.random() < 0.4 and (s.lo is None) != (s.hi is None):
            op = (">" if s.lo_open else ">=") if s.lo is not None else ("<" if s.hi_open else "<=")
            clauses.append(f"{name} {op} {s.lo if s.lo is not None else s.hi}")
        elif isinstance(s, Real) and rng is not None and rng.random() < 0.3 and s.lo is not None and s.hi is not None:
            clauses.append(f"{s.lo} {'<' if s.lo_open else '<='} {name} "  # bare: '(' opens a set
                           f"{'<' if s.hi_open else '<='} {s.hi}")
        else:
            clauses.append(f"{name} {'in' if rng is None or rng.random() < 0.8 else '∈'} {set_text(s, rng)}")
    return ", ".join(clauses)
