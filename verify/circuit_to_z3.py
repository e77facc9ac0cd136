"""Encode circuits, targets and domains as z3 terms: one real variable per neuron that needs one.

Name hygiene, by construction: a user's variable is a z3 constant named exactly as the user wrote
it, and such names are identifiers (``[A-Za-z_][A-Za-z0-9_]*``, checked here); every constant the
encoder invents has a ``!`` in its name (``n!h1``), which no identifier has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction

import sympy as sp
import z3

from symbolic import budget, errors
from symbolic.circuit import Activation, Circuit
from symbolic.evaluate import operands
from symbolic.exact import Q, fraction_of, q_of
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval

#: The names a user's variable may have; the encoder's own names contain "!" and so never match.
USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: An affine form over more than this many variables gets a variable of its own (keeps terms small).
MAX_FORM = 32


def z3_number(value: Fraction | sp.Rational) -> z3.ArithRef:
    """An exact z3 rational constant.

    >>> z3_number(Fraction(-3, 4))
    -3/4
    """
    value = fraction_of(value) if isinstance(value, sp.Rational) else Fraction(value)
    return z3.RealVal(f"{value.numerator}/{value.denominator}")


def internal_name(prefix: str, name: str) -> str:
    """The z3 name of the encoder's variable for neuron ``name``: it contains ``!``.

    >>> internal_name('n', 'h1')
    'n!h1'
    """
    return f"{prefix}!{name}"


class Values(Mapping):
    """Name -> z3 term of a circuit's names, built on first access from exact affine forms."""

    def __init__(self, encoder: Encoder, forms: dict[str, tuple[dict[str, Fraction], Fraction]]):
        self._encoder, self._forms, self._terms = encoder, forms, {}

    def __getitem__(self, name: str) -> z3.ArithRef:
        if name not in self._terms:
            self._terms[name] = self._encoder.affine(*self._forms[name])
        return self._terms[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._forms)

    def __len__(self) -> int:
        return len(self._forms)


class Encoder:
    """Builds z3 terms for one query over the variables of a claim.

    ``inputs`` are the network inputs and ``parameters`` the symbolic weights; an integer
    variable is a z3 ``Int`` seen through ``ToReal`` so that all arithmetic stays real.
    ``deadline`` bounds the time spent encoding (a deep circuit is checked per neuron).

    Targets are encoded as total functions: a claim's target must first be shown defined on the
    domain (:mod:`verify.totality`); where it is undefined (a gap between Piecewise conditions,
    ``H(0)``, division by 0) the encoding picks an arbitrary value.
    """

    def __init__(self, domain: Domain, inputs: Sequence[str], parameters: Sequence[str] = (),
                 deadline: budget.Deadline | None = None):
        self.domain = domain
        self.inputs = tuple(inputs)
        self.parameters = tuple(parameters)
        self.deadline = deadline
        self.raw: dict[str, z3.ArithRef] = {}
        self.vars: dict[str, z3.ArithRef] = {}
        self.constraints: list[z3.BoolRef] = []
        self._memo: dict[sp.Basic, z3.ExprRef] = {}
        self._depends: dict[sp.Basic, bool] = {}  # does a sub-expression depend on the inputs?
        self._numbers: dict[Fraction, z3.ArithRef] = {}
        self.atoms: dict[str, z3.ArithRef] = {}  # key of an affine form -> z3 variable
        self.abstracted: list[str] = []  # sigmoid neurons encoded by sound facts only
        self.stable = 0  # ReLUs encoded without a case split (fixed sign on the domain)
        self.neuron_vars = 0  # variables the encoder invented (the size of the query)
        for name in self.inputs + self.parameters:
            if not isinstance(name, str) or not USER_NAME.match(name):
                raise errors.InvalidCircuitError(f"variable name {name!r} is not an identifier")
            if name in self.raw:
                raise errors.InvalidCircuitError(f"variable {name!r} is given twice")
            if domain.is_integer(name):
                self.raw[name] = z3.Int(name)
                self.vars[name] = z3.ToReal(self.raw[name])
            else:
                self.raw[name] = self.vars[name] = z3.Real(name)
            self.atoms[name] = self.vars[name]
            self.constraints.extend(self._membership(name))

    def _membership(self, name: str) -> list[z3.BoolRef]:
        s, v = self.domain.of(name), self.vars[name]
        if isinstance(s, FiniteSet):
            return [z3.Or(*(v == self.number(x) for x in s.values))]
        if isinstance(s, IntegerRange):
            out = []
            if s.lo is not None:
                out.append(self.raw[name] >= s.lo)
            if s.hi is not None:
                out.append(self.raw[name] <= s.hi)
            return out
        assert isinstance(s, RealInterval)
        out = []
        if s.lo is not None:
            out.append(v > self.number(s.lo) if s.lo_open else v >= self.number(s.lo))
        if s.hi is not None:
            out.append(v < self.number(s.hi) if s.hi_open else v <= self.number(s.hi))
        return out

    def number(self, value) -> z3.ArithRef:
        """``z3_number`` with a cache (a trained network repeats few distinct constants); takes a
        Fraction, a sympy Rational, an int or a gmpy2 rational."""
        if isinstance(value, sp.Rational):
            key = fraction_of(value)
        else:
            key = fraction_of(value)
        if key not in self._numbers:
            self._numbers[key] = z3_number(key)
        return self._numbers[key]

    def affine(self, form: Mapping[str, Fraction], constant: Fraction) -> z3.ArithRef:
        """The z3 term ``sum(c * atom) + constant`` (flat: never nested deeper than one sum)."""
        terms = [self.atoms[k] if c == 1 else self.number(c) * self.atoms[k] for k, c in form.items()]
        if constant or not terms:
            terms.append(self.number(constant))
        return terms[0] if len(terms) == 1 else z3.Sum(*terms)

    # -- circuits ----------------------------------------------------------------------------
    def encode_circuit(self, circuit: Circuit, prefix: str = "n",
                       signs: dict[str, int] | None = None) -> Mapping[str, z3.ArithRef]:
        """Constrain the circuit's neurons; return name -> z3 term for every name.

        ``signs`` (from :func:`verify.bounds.stable_signs`) marks ReLUs whose pre-activation has
        a fixed sign on the domain: such a neuron is its pre-activation or 0, and, like a linear
        assignment, becomes an exact affine form over the variables before it rather than a new
        variable (a 100,000-deep chain of stable ReLUs is one variable). A neuron that may change
        sign gets a variable ``{prefix}!{name}`` with ``v = If(pre > 0, pre, 0)``.
        """
        if circuit.parameters:
            return self._encode_symbolic(circuit, prefix, signs or {})
        signs = signs or {}
        forms: dict[str, tuple[dict, object]] = {name: ({name: Q(1)}, Q(0)) for name in circuit.inputs}
        for a in circuit.assignments:
            budget.check(self.deadline, "the z3 encoding")
            pre = _combine(a, forms)
            sign = signs.get(a.name, 0)  # only ReLUs have a stable sign
            if a.activation is Activation.LINEAR or sign > 0:
                forms[a.name] = pre if len(pre[0]) <= MAX_FORM else self._fresh(prefix, a.name, pre)
                self.stable += sign > 0
            elif sign < 0:
                forms[a.name] = ({}, Q(0))
                self.stable += 1
            else:
                var = self._new_var(prefix, a.name)
                self.constraints.extend(a.activation.z3_facts(self.affine(*pre), var))
                if not a.activation.z3_exact:
                    self.abstracted.append(a.name)
                forms[a.name] = ({internal_name(prefix, a.name): Q(1)}, Q(0))
        return Values(self, forms)

    def _new_var(self, prefix: str, name: str) -> z3.ArithRef:
        key = internal_name(prefix, name)
        var = self.atoms[key] = z3.Real(key)
        self.neuron_vars += 1
        return var

    def _fresh(self, prefix: str, name: str, form) -> tuple[dict[str, Fraction], Fraction]:
        """A variable equal to a long affine form, so that later forms stay short."""
        var = self._new_var(prefix, name)
        self.constraints.append(var == self.affine(*form))
        return {internal_name(prefix, name): Q(1)}, Q(0)

    def _encode_symbolic(self, circuit: Circuit, prefix: str, signs: dict[str, int]) -> dict[str, z3.ArithRef]:
        """Circuits with symbolic weights: one variable per assignment (weights times variables)."""
        env: dict[str, z3.ArithRef] = {name: self.vars[name] for name in circuit.inputs}
        for a in circuit.assignments:
            budget.check(self.deadline, "the z3 encoding")
            pre = z3.Sum(*(self.coefficient(c) * env[s] for s, c in a.terms), self.coefficient(a.bias)) \
                if a.terms else self.coefficient(a.bias)
            var = self._new_var(prefix, a.name)
            if signs.get(a.name):  # a ReLU of fixed sign: its input or 0
                self.constraints.append(var == (pre if signs[a.name] > 0 else z3.RealVal(0)))
                self.stable += 1
            else:
                self.constraints.extend(a.activation.z3_facts(pre, var))
                if not a.activation.z3_exact:
                    self.abstracted.append(a.name)
            env[a.name] = var
        return env

    def coefficient(self, value: sp.Expr) -> z3.ArithRef:
        """A weight: an exact rational, or an expression in the parameters."""
        if value.is_Rational:
            return self.number(value)
        inputs = {s for s in value.free_symbols if str(s) in self.inputs}
        if inputs:
            raise errors.NonPiecewiseLinearError(f"weight {value} depends on the inputs {sorted(map(str, inputs))}")
        return self.expr(value)

    # -- targets -------------------------------------------------------------------------------
    def expr(self, e: sp.Basic) -> z3.ExprRef:
        """Encode a target expression (numbers as reals, conditions as booleans).

        The walk is iterative (an explicit stack), so the depth of ``e`` is not limited by
        Python's recursion limit.
        """
        stack = [(e, False)]
        depends = self._depends
        while stack:
            node, ready = stack.pop()
            if node in self._memo:
                continue
            children = operands(node)
            if not ready:
                stack.append((node, True))
                stack.extend((c, False) for c in children if c not in self._memo)
                continue
            depends[node] = (node.is_Symbol and node.name in self.inputs) or any(depends[c] for c in children)
            self._memo[node] = self._build(node, [self._memo[c] for c in children])
        return self._memo[e]

    def _build(self, e: sp.Basic, args: list) -> z3.ExprRef:  # noqa: C901 - a dispatch table
        depends = self._depends
        if e.is_Rational:
            return self.number(e)
        if e.is_Symbol:
            if e.name not in self.vars:
                raise errors.UnsupportedExpressionError(f"{e.name} is not a variable of this claim")
            return self.vars[e.name]
        if e is sp.true or e is sp.false:
            return z3.BoolVal(bool(e))
        if isinstance(e, sp.Add):
            return z3.Sum(*args)
        if isinstance(e, sp.Mul):
            if sum(depends[a] for a in e.args) > 1:
                raise errors.NonPiecewiseLinearError(
                    f"{e} multiplies several terms that depend on the inputs: not piecewise-linear")
            return z3.Product(*args)
        if isinstance(e, sp.Pow) and e.exp.is_Integer:
            if depends[e.base] and e.exp != 1:
                raise errors.NonPiecewiseLinearError(f"{e} is a power of an input: not piecewise-linear")
            power = _power(args[0], abs(int(e.exp)))
            return 1 / power if e.exp < 0 else power
        activation = Activation.of_function(e)
        if activation is not None:
            if not activation.z3_exact:
                raise errors.UnsupportedExpressionError(f"{e} is transcendental: z3 cannot encode it exactly")
            return activation.z3_term(args[0])
        if isinstance(e, sp.Abs):
            return z3.If(args[0] >= 0, args[0], -args[0])
        if isinstance(e, (sp.Min, sp.Max)):
            out = args[0]
            for a in args[1:]:
                out = z3.If(a < out, a, out) if isinstance(e, sp.Min) else z3.If(a > out, a, out)
            return out
        if isinstance(e, sp.Piecewise):  # args: value1, cond1, value2, cond2, ...
            out = args[-2]  # past the last condition the value is arbitrary (totality is checked first)
            for i in range(len(args) - 4, -1, -2):
                out = z3.If(args[i + 1], args[i], out)
            return out
        if isinstance(e, sp.Heaviside):
            at_zero = args[1] if len(args) > 1 else self.number(0)  # H(0) undefined: checked first
            return z3.If(args[0] > 0, self.number(1), z3.If(args[0] < 0, self.number(0), at_zero))
        if isinstance(e, sp.floor):
            return z3.ToReal(z3.ToInt(args[0]))
        if isinstance(e, sp.ceiling):
            return -z3.ToReal(z3.ToInt(-args[0]))
        if isinstance(e, sp.Mod):
            if depends[e.args[1]]:
                raise errors.NonPiecewiseLinearError(f"{e} has a modulus that depends on the inputs")
            a, m = args
            return a - m * z3.ToReal(z3.ToInt(a / m))
        if isinstance(e, sp.Rel):
            a, b = args
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[e.rel_op]
        if isinstance(e, sp.And):
            return z3.And(*args)
        if isinstance(e, sp.Or):
            return z3.Or(*args)
        if isinstance(e, sp.Not):
            return z3.Not(args[0])
        raise errors.UnsupportedExpressionError(
            f"cannot encode {e}: {type(e).__name__} is not piecewise-linear or not supported")


def _combine(a, forms) -> tuple[dict, object]:
    """``a``'s affine pre-activation as an exact form over the atoms of its sources' forms
    (gmpy2 rationals when available: Fraction arithmetic dominated deep encodings)."""
    out: dict = {}
    constant = q_of(a.bias)
    for source, c in a.terms:
        coeff = q_of(c)
        form, const = forms[source]
        if const:
            constant += coeff * const
        for key, value in form.items():
            out[key] = out.get(key, 0) + coeff * value
    return {k: v for k, v in out.items() if v != 0}, constant


def _power(base: z3.ArithRef, n: int) -> z3.ArithRef:
    out = z3.RealVal(1)
    for _ in range(n):
        out = out * base
    return out


def model_value(model: z3.ModelRef, var: z3.ArithRef) -> tuple[Fraction, bool]:
    """The exact value of ``var`` in ``model`` and whether it is exact (False: rational approximation
    of an irrational algebraic number)."""
    value = model.eval(var, model_completion=True)
    if z3.is_int_value(value):
        return Fraction(value.as_long()), True
    if z3.is_rational_value(value):
        return value.as_fraction(), True
    if z3.is_algebraic_value(value):
        return value.approx(30).as_fraction(), False
    raise errors.MathCircuitsError(f"z3 returned the non-numeric value {value} for {var}")
