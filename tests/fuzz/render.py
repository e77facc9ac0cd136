"""Fuzz claims to the tool's objects: ASTs to sympy, nets to Circuits, domains and kinds, or CLI text."""

from __future__ import annotations

import random
from fractions import Fraction

import sympy as sp

from proofs import text_to_domain, text_to_expr
from symbolic.circuit import Activation, Builder, from_layers
from symbolic.expr_to_circuit import expr_to_circuit
from symbolic.relu import ReLU
from tests.fuzz import spec
from verify import claim as vc
from verify import domain as vd

_RELATIONS = {"<": sp.Lt, "<=": sp.Le, ">": sp.Gt, ">=": sp.Ge, "==": sp.Eq, "!=": sp.Ne}


def rational(v: Fraction) -> sp.Rational:
    return sp.Rational(v.numerator, v.denominator)


def to_sympy(node, memo: dict | None = None) -> sp.Basic:
    """The sympy expression the tool is given for an AST (its meaning is the oracle's); shared
    sub-ASTs are built once.

    >>> to_sympy(spec.Min((spec.Var('a'), spec.Relu(spec.Var('b')))))
    Min(a, R(b))
    """
    memo = {} if memo is None else memo
    if id(node) not in memo:
        memo[id(node)] = (node, _to_sympy(node, lambda child: to_sympy(child, memo)))
    return memo[id(node)][1]


def _to_sympy(node, to_sympy) -> sp.Basic:  # noqa: C901 - one case per node
    if isinstance(node, spec.Num):
        return rational(node.value)
    if isinstance(node, spec.Var):
        return sp.Symbol(node.name, real=True)
    if isinstance(node, spec.Lin):
        return sp.Add(*(rational(c) * to_sympy(n) for c, n in node.terms), rational(node.const))
    if isinstance(node, spec.Relu):
        return ReLU(to_sympy(node.arg))
    if isinstance(node, spec.Abs):
        return sp.Abs(to_sympy(node.arg))
    if isinstance(node, spec.Min):
        return sp.Min(*(to_sympy(a) for a in node.args))
    if isinstance(node, spec.Max):
        return sp.Max(*(to_sympy(a) for a in node.args))
    if isinstance(node, spec.Cases):
        return sp.Piecewise(*((to_sympy(v), to_sympy(c)) for v, c in node.pieces))
    if isinstance(node, spec.Ind):
        return sp.Piecewise((sp.S.One, to_sympy(node.cond)), (sp.S.Zero, True))
    if isinstance(node, spec.Cmp):
        return _RELATIONS[node.op](to_sympy(node.left), to_sympy(node.right))
    if isinstance(node, spec.All):
        return sp.And(*(to_sympy(a) for a in node.args))
    if isinstance(node, spec.Any_):
        return sp.Or(*(to_sympy(a) for a in node.args))
    if isinstance(node, spec.Neg):
        return sp.Not(to_sympy(node.arg))
    if isinstance(node, spec.Bool):
        return sp.true if node.value else sp.false
    raise TypeError(f"not an AST node: {node!r}")


def to_circuit(net: spec.Net):
    """The tool's Circuit for a Net: through ``from_layers`` when it has layers, else a Builder."""
    if net.layers is not None:
        layers = [([list(row) for row in rows], None if biases is None else list(biases))
                  for rows, biases, _ in net.layers]
        acts = [Activation.RELU if relu else Activation.LINEAR for _, _, relu in net.layers]
        return from_layers(layers, inputs=list(net.inputs), activations=acts, outputs=list(net.outputs))
    builder = Builder(net.inputs)
    for n in net.neurons:
        builder.add(dict(n.terms), n.bias, Activation.RELU if n.relu else Activation.LINEAR, name=n.name)
    return builder.build(list(net.outputs))


def to_set(s):
    if isinstance(s, spec.Real):
        return vd.RealInterval(s.lo, s.hi, lo_open=s.lo_open, hi_open=s.hi_open)
    if isinstance(s, spec.Ints):
        return vd.IntegerRange(s.lo, s.hi)
    return vd.FiniteSet(tuple(s.values))


def to_domain(case: spec.Case) -> vd.Domain:
    return vd.Domain({name: to_set(s) for name, s in case.domain})


def to_kind(kind):
    if isinstance(kind, spec.Tol):
        return vc.Tolerance(kind.eps)
    if isinstance(kind, spec.Pred):
        return vc.Predicate(kind.op, kind.threshold)
    return vc.Equality()


def api_claim(case: spec.Case) -> vc.Claim:
    """The claim built directly from objects (Builder / from_layers, sympy, Domain)."""
    if isinstance(case.network, spec.Net):
        circuit = to_circuit(case.network)
        output = case.network.output
    else:
        circuit = expr_to_circuit(to_sympy(case.network), list(case.inputs))
        output = None
    return vc.Claim(circuit, to_sympy(case.target), to_domain(case), to_kind(case.kind), output)


def texts(case: spec.Case) -> dict[str, str]:
    """The command-line texts of a claim: network, target, domain, inputs and kind options."""
    rng = random.Random(f"text:{case.index}")
    network = case.network if isinstance(case.network, spec.Node) else spec.net_to_node(case.network)
    out = {"network": spec.text(network, rng), "target": spec.text(case.target, rng),
           "domain": spec.domain_text(case, rng), "inputs": ",".join(case.inputs)}
    if isinstance(case.kind, spec.Tol):
        out["tolerance"] = str(case.kind.eps)
    if isinstance(case.kind, spec.Pred):
        out["threshold"] = str(case.kind.threshold)
    return out


def text_claim(case: spec.Case) -> vc.Claim:
    """The claim built as ``mathcircuits claim`` builds it: every part parsed from text."""
    t = texts(case)
    inputs = list(text_to_expr.parse_names(t["inputs"]))
    network = text_to_expr.parse_expression(t["network"])
    target = text_to_expr.parse_expression(t["target"])
    circuit = expr_to_circuit(network, inputs, [])
    domain = text_to_domain.parse_domain(t["domain"], list(circuit.inputs))
    if "tolerance" in t:
        kind = vc.Tolerance(text_to_expr.parse_number(t["tolerance"]))
    elif "threshold" in t:
        kind = vc.Predicate(case.kind.op, text_to_expr.parse_number(t["threshold"]))
    else:
        kind = vc.Equality()
    return vc.Claim(circuit, target, domain, kind)


def cli_argv(case: spec.Case, timeout: float) -> list[str]:
    """``mathcircuits claim ... --json`` for a claim (predicates only with ``>``)."""
    t = texts(case)
    argv = ["claim", f"--target={t['target']}", f"--domain={t['domain']}", f"--inputs={t['inputs']}",
            "--json", f"--timeout={timeout}"]
    argv += [f"--{key}={t[key]}" for key in ("tolerance", "threshold") if key in t]
    return argv + ["--", t["network"]]  # '=' and '--': values may start with '-'
