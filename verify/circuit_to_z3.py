"""Encode circuits, targets and domains as z3 terms: one real variable per neuron."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import sympy as sp
import z3

from symbolic import errors
from symbolic.circuit import Activation, Circuit
from symbolic.relu import ReLU, Sigmoid
from verify.domain import Domain, FiniteSet, IntegerRange, RealInterval


def z3_number(value: Fraction | sp.Rational) -> z3.ArithRef:
    """An exact z3 rational constant."""
    value = Fraction(int(value.p), int(value.q)) if isinstance(value, sp.Rational) else Fraction(value)
    return z3.RealVal(f"{value.numerator}/{value.denominator}")


class Encoder:
    """Builds z3 terms for one query over the variables of a claim.

    ``inputs`` are the network inputs and ``parameters`` the symbolic weights; an integer
    variable is a z3 ``Int`` seen through ``ToReal`` so that all arithmetic stays real.
    """

    def __init__(self, domain: Domain, inputs: Sequence[str], parameters: Sequence[str] = ()):
        self.domain = domain
        self.inputs = tuple(inputs)
        self.parameters = tuple(parameters)
        self.raw: dict[str, z3.ArithRef] = {}
        self.vars: dict[str, z3.ArithRef] = {}
        self.constraints: list[z3.BoolRef] = []
        self._memo: dict[sp.Basic, z3.ExprRef] = {}
        self.abstracted: list[str] = []  # sigmoid neurons encoded by sound facts only
        self.stable = 0  # ReLUs encoded without a case split (fixed sign on the domain)
        for name in self.inputs + self.parameters:
            if domain.is_integer(name):
                self.raw[name] = z3.Int(name)
                self.vars[name] = z3.ToReal(self.raw[name])
            else:
                self.raw[name] = self.vars[name] = z3.Real(name)
            self.constraints.extend(self._membership(name))

    def _membership(self, name: str) -> list[z3.BoolRef]:
        s, v = self.domain.of(name), self.vars[name]
        if isinstance(s, FiniteSet):
            return [z3.Or(*(v == z3_number(x) for x in s.values))]
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
            out.append(v > z3_number(s.lo) if s.lo_open else v >= z3_number(s.lo))
        if s.hi is not None:
            out.append(v < z3_number(s.hi) if s.hi_open else v <= z3_number(s.hi))
        return out

    # -- circuits ----------------------------------------------------------------------------
    def encode_circuit(self, circuit: Circuit, prefix: str = "n_",
                       signs: dict[str, int] | None = None) -> dict[str, z3.ArithRef]:
        """Declare one z3 variable per assignment and constrain it; return name -> term.

        ``signs`` (from :func:`verify.bounds.stable_signs`) marks ReLUs whose pre-activation has
        a fixed sign on the domain: they are encoded as ``h = pre`` or ``h = 0``, with no case split.
        """
        signs = signs or {}
        env: dict[str, z3.ArithRef] = {name: self.vars[name] for name in circuit.inputs}
        for a in circuit.assignments:
            pre = z3.Sum(*(self.coefficient(c) * env[s] for s, c in a.terms), self.coefficient(a.bias)) \
                if a.terms else self.coefficient(a.bias)
            var = z3.Real(prefix + a.name)
            if a.activation is Activation.SIGMOID:
                self.constraints.extend(_sigmoid_facts(pre, var))
                self.abstracted.append(a.name)
            elif a.activation is Activation.RELU and signs.get(a.name):
                self.constraints.append(var == (pre if signs[a.name] > 0 else z3.RealVal(0)))
                self.stable += 1
            else:
                value = z3.If(pre > 0, pre, z3.RealVal(0)) if a.activation is Activation.RELU else pre
                self.constraints.append(var == value)
            env[a.name] = var
        return env

    def coefficient(self, value: sp.Expr) -> z3.ArithRef:
        """A weight: an exact rational, or an expression in the parameters."""
        if value.is_Rational:
            return z3_number(value)
        inputs = {s for s in value.free_symbols if str(s) in self.inputs}
        if inputs:
            raise errors.NonPiecewiseLinearError(f"weight {value} depends on the inputs {sorted(map(str, inputs))}")
        return self.expr(value)

    # -- targets -------------------------------------------------------------------------------
    def expr(self, e: sp.Basic) -> z3.ExprRef:
        """Encode a target expression (numbers as reals, conditions as booleans)."""
        if e in self._memo:
            return self._memo[e]
        out = self._encode(e)
        self._memo[e] = out
        return out

    def _depends(self, e: sp.Basic) -> bool:
        return any(str(s) in self.inputs for s in e.free_symbols)

    def _encode(self, e: sp.Basic) -> z3.ExprRef:  # noqa: C901 - a dispatch table
        if e.is_Rational:
            return z3_number(e)
        if e.is_Symbol:
            if e.name not in self.vars:
                raise errors.UnsupportedExpressionError(f"{e.name} is not a variable of this claim")
            return self.vars[e.name]
        if e is sp.true or e is sp.false:
            return z3.BoolVal(bool(e))
        if isinstance(e, sp.Add):
            return z3.Sum(*(self.expr(a) for a in e.args))
        if isinstance(e, sp.Mul):
            varying = [a for a in e.args if self._depends(a)]
            if len(varying) > 1:
                raise errors.NonPiecewiseLinearError(
                    f"{e} multiplies {len(varying)} terms that depend on the inputs: not piecewise-linear"
                )
            return z3.Product(*(self.expr(a) for a in e.args))
        if isinstance(e, sp.Pow) and e.exp.is_Integer:
            if self._depends(e.base) and e.exp != 1:
                raise errors.NonPiecewiseLinearError(f"{e} is a power of an input: not piecewise-linear")
            base = self.expr(e.base)
            if e.exp < 0:
                self.constraints.append(base != 0)
                return 1 / _power(base, -int(e.exp))
            return _power(base, int(e.exp))
        if isinstance(e, ReLU):
            a = self.expr(e.args[0])
            return z3.If(a > 0, a, z3.RealVal(0))
        if isinstance(e, sp.Abs):
            a = self.expr(e.args[0])
            return z3.If(a >= 0, a, -a)
        if isinstance(e, (sp.Min, sp.Max)):
            args = [self.expr(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = z3.If(a < out, a, out) if isinstance(e, sp.Min) else z3.If(a > out, a, out)
            return out
        if isinstance(e, sp.Piecewise):
            out = None
            for value, cond in reversed(e.args):
                v = self.expr(value)
                out = v if (out is None and cond is sp.true) else z3.If(self.expr(cond), v, out if out is not None else v)
            return out
        if isinstance(e, sp.Heaviside):
            a = self.expr(e.args[0])
            if len(e.args) < 2 or e.args[1] is sp.nan:
                raise errors.UnsupportedExpressionError(f"{e} is undefined at 0; give H(z, value)")
            return z3.If(a > 0, z3.RealVal(1), z3.If(a < 0, z3.RealVal(0), self.expr(e.args[1])))
        if isinstance(e, sp.floor):
            return z3.ToReal(z3.ToInt(self.expr(e.args[0])))
        if isinstance(e, sp.ceiling):
            return -z3.ToReal(z3.ToInt(-self.expr(e.args[0])))
        if isinstance(e, sp.Mod):
            if self._depends(e.args[1]):
                raise errors.NonPiecewiseLinearError(f"{e} has a modulus that depends on the inputs")
            a, m = self.expr(e.args[0]), self.expr(e.args[1])
            self.constraints.append(m != 0)
            return a - m * z3.ToReal(z3.ToInt(a / m))
        if isinstance(e, sp.Rel):
            a, b = self.expr(e.lhs), self.expr(e.rhs)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[e.rel_op]
        if isinstance(e, sp.And):
            return z3.And(*(self.expr(a) for a in e.args))
        if isinstance(e, sp.Or):
            return z3.Or(*(self.expr(a) for a in e.args))
        if isinstance(e, sp.Not):
            return z3.Not(self.expr(e.args[0]))
        if isinstance(e, Sigmoid):
            raise errors.UnsupportedExpressionError(f"{e} is transcendental: z3 cannot encode it exactly")
        raise errors.UnsupportedExpressionError(
            f"cannot encode {e}: {type(e).__name__} is not piecewise-linear or not supported"
        )


def _sigmoid_facts(pre: z3.ArithRef, s: z3.ArithRef) -> list[z3.BoolRef]:
    """True facts about ``s = S(pre)``: it lies in (0, 1), exceeds 1/2 exactly when ``pre > 0``
    and equals 1/2 at 0. A proof from these facts is a proof; a model of them is only a hint."""
    half = z3.RealVal("1/2")
    return [s > 0, s < 1, (pre > 0) == (s > half), (pre < 0) == (s < half)]


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
