"""The activations, each defined once: exact, float and interval value, z3 encoding, printing, derivative, names."""

from __future__ import annotations

import enum
import math
from fractions import Fraction

import sympy as sp

from symbolic.relu import ReLU, Sigmoid

#: Bits of the rigorous enclosure behind a sigmoid's interval image (its ends are exact rationals).
SIGMOID_INTERVAL_BITS = 64


class _Identity:
    """``z``: the linear (activation-free) assignment."""

    symbol, latex, function = "", "", None
    piecewise_linear, positively_homogeneous, idempotent, z3_exact = True, True, True, True
    onnx_op, torch_module, torch_function = None, "Identity", None

    @staticmethod
    def exact(z):
        return z

    @staticmethod
    def approx(z: float) -> float:
        return z

    @staticmethod
    def numpy(z):
        return z

    @staticmethod
    def interval(lo, hi):
        return lo, hi

    @staticmethod
    def enclose(ctx, box):
        return box

    @staticmethod
    def z3_term(pre):
        return pre

    @staticmethod
    def z3_facts(pre, out) -> list:
        return [out == pre]

    @staticmethod
    def derivative(z: sp.Expr) -> sp.Expr:
        return sp.S.One


class _Rectifier:
    """``R(z) = max(0, z)``: exact on rationals, piecewise linear, positively homogeneous."""

    function = ReLU
    symbol, latex = ReLU.symbol, rf"\operatorname{{{ReLU.symbol}}}"
    piecewise_linear, positively_homogeneous, idempotent, z3_exact = True, True, True, True
    onnx_op, torch_module, torch_function = "Relu", "ReLU", "relu"

    @staticmethod
    def exact(z):
        if isinstance(z, sp.Basic):
            return ReLU(z)
        return z if z > 0 else z * 0  # Fraction, mpq or int stay that type

    @staticmethod
    def approx(z: float) -> float:
        return z if z > 0 else 0.0

    @staticmethod
    def numpy(z):
        import numpy as np

        return np.maximum(z, 0.0)

    @staticmethod
    def interval(lo, hi):
        zero = _zero_like(lo, hi)
        return (zero if lo is None or lo < 0 else lo), (None if hi is None else max(hi, zero))

    @staticmethod
    def enclose(ctx, box):
        if box.a >= 0:
            return box
        if box.b <= 0:
            return ctx.mpf(0)
        return ctx.mpf([0, box.b])

    @staticmethod
    def z3_term(pre):
        import z3

        return z3.If(pre > 0, pre, z3.RealVal(0))

    @staticmethod
    def z3_facts(pre, out) -> list:
        return [out == _Rectifier.z3_term(pre)]

    @staticmethod
    def derivative(z: sp.Expr) -> sp.Expr:
        return sp.Heaviside(z)


class _Logistic:
    """``S(z) = 1 / (1 + exp(-z))``: transcendental (exact only as a sympy number), increasing."""

    function = Sigmoid
    symbol, latex = Sigmoid.symbol, rf"\operatorname{{{Sigmoid.symbol}}}"
    piecewise_linear, positively_homogeneous, idempotent, z3_exact = False, False, False, False
    onnx_op, torch_module, torch_function = "Sigmoid", "Sigmoid", "sigmoid"

    @staticmethod
    def exact(z):
        return Sigmoid(z if isinstance(z, sp.Basic) else sp.Rational(int(z.numerator), int(z.denominator)))

    @staticmethod
    def approx(z: float) -> float:
        return 1 / (1 + math.exp(-z)) if z > -700 else 0.0

    @staticmethod
    def numpy(z):
        import numpy as np

        return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))

    @staticmethod
    def interval(lo, hi):
        """Monotone: ``[S(lo), S(hi)]``, each end rounded outward to an exact binary rational."""
        zero = _zero_like(lo, hi)
        low = zero if lo is None else zero + _sigmoid_enclosure(lo)[0]
        high = zero + 1 if hi is None else zero + _sigmoid_enclosure(hi)[1]
        return low, high

    @staticmethod
    def enclose(ctx, box):
        return 1 / (1 + ctx.exp(-box))

    @staticmethod
    def z3_term(pre):
        return None  # transcendental: no exact z3 term

    @staticmethod
    def z3_facts(pre, out) -> list:
        """True facts only (``s`` in (0, 1), above 1/2 exactly when ``pre > 0``): a proof from
        them is a proof, a model of them only a hint."""
        import z3

        half = z3.RealVal("1/2")
        return [out > 0, out < 1, (pre > 0) == (out > half), (pre < 0) == (out < half)]

    @staticmethod
    def derivative(z: sp.Expr) -> sp.Expr:
        return Sigmoid(z) * (1 - Sigmoid(z))


class Activation(enum.Enum):
    """What wraps an assignment's affine pre-activation; each member's meaning is defined once,
    in its rule class above, and reached through these methods (sympy's function-class style).

    The values ``"linear"``, ``"relu"``, ``"sigmoid"`` are the serialised names (model files,
    certificates, reports).

    >>> Activation.RELU.exact(Fraction(-3, 2)), Activation.RELU.approx(2.5), Activation.RELU.symbol
    (Fraction(0, 1), 2.5, 'R')
    >>> Activation.SIGMOID.exact(Fraction(0)), Activation.SIGMOID.piecewise_linear
    (1/2, False)
    >>> [Activation.from_onnx_op(op) for op in ('Relu', 'Sigmoid')]
    [<Activation.RELU: 'relu'>, <Activation.SIGMOID: 'sigmoid'>]
    """

    LINEAR = "linear"
    RELU = "relu"
    SIGMOID = "sigmoid"

    @property
    def _rule(self):
        return _RULES[self]

    def exact(self, z):
        """The exact value at ``z``: a ``Fraction``/``mpq`` stays one for piecewise-linear
        activations; a sympy expression (or a sigmoid's value) is a sympy expression.

        >>> import sympy as sp
        >>> Activation.RELU.exact(sp.Symbol('z') + 1), Activation.SIGMOID.exact(sp.Integer(2))
        (R(z + 1), S(2))
        """
        return self._rule.exact(z)

    def approx(self, z: float) -> float:
        """The float value (to guide a search or draw a figure, never to decide).

        >>> round(Activation.SIGMOID.approx(1.0), 6), Activation.SIGMOID.approx(-800.0)
        (0.731059, 0.0)
        """
        return self._rule.approx(z)

    def numpy(self, z):
        """The float value of every entry of a numpy array."""
        return self._rule.numpy(z)

    def interval(self, lo, hi):
        """A sound image ``(lo', hi')`` of the interval ``[lo, hi]`` (``None``: unbounded), exact
        ends of the same type as the inputs (Fraction, gmpy2 mpq or sympy Rational).

        >>> Activation.RELU.interval(Fraction(-1), Fraction(2)), Activation.RELU.interval(None, None)
        ((Fraction(0, 1), Fraction(2, 1)), (Fraction(0, 1), None))
        >>> Activation.SIGMOID.interval(Fraction(0), Fraction(0))
        (Fraction(1, 2), Fraction(1, 2))
        >>> lo, hi = Activation.SIGMOID.interval(Fraction(1), Fraction(1))
        >>> round(float(lo), 12), hi - lo <= Fraction(1, 2**63)
        (0.73105857863, True)
        """
        return self._rule.interval(lo, hi)

    def enclose(self, ctx, box):
        """A rigorous enclosure of the image of ``box``, an interval of mpmath's ``iv`` context ``ctx``.

        >>> import mpmath
        >>> Activation.RELU.enclose(mpmath.iv, mpmath.iv.mpf([-1, 2]))
        mpi('0.0', '2.0')
        """
        return self._rule.enclose(ctx, box)

    def z3_term(self, pre):
        """The exact z3 term ``activation(pre)``, ``None`` when there is none (:attr:`z3_exact` is
        False); z3 is imported only when this is called.

        >>> import z3
        >>> Activation.RELU.z3_term(z3.Real('p')), Activation.SIGMOID.z3_term(z3.Real('p'))
        (If(p > 0, p, 0), None)
        """
        return self._rule.z3_term(pre)

    def z3_facts(self, pre, out) -> list:
        """z3 constraints tying ``out`` to ``activation(pre)``: its definition when
        :attr:`z3_exact`, else true facts about it.

        >>> import z3
        >>> Activation.RELU.z3_facts(z3.Real('p'), z3.Real('o'))
        [o == If(p > 0, p, 0)]
        """
        return self._rule.z3_facts(pre, out)

    def derivative(self, z: sp.Expr) -> sp.Expr:
        """The derivative with respect to the pre-activation, at ``z``.

        >>> import sympy as sp
        >>> z = sp.Symbol('z', real=True)
        >>> [a.derivative(z) for a in Activation]
        [1, Heaviside(z), (1 - S(z))*S(z)]
        """
        return self._rule.derivative(z)

    @property
    def function(self) -> type[sp.Function] | None:
        """The sympy function class (``ReLU``, ``Sigmoid``), ``None`` for the identity."""
        return self._rule.function

    @property
    def symbol(self) -> str:
        """The printed name: ``R``, ``S``, or ``''`` for the identity."""
        return self._rule.symbol

    @property
    def latex(self) -> str:
        """The LaTeX name (``\\operatorname{R}``), ``''`` for the identity."""
        return self._rule.latex

    @property
    def piecewise_linear(self) -> bool:
        """Whether the activation is piecewise linear (exact over the rationals)."""
        return self._rule.piecewise_linear

    @property
    def positively_homogeneous(self) -> bool:
        """Whether ``f(c z) = c f(z)`` for every ``c > 0``."""
        return self._rule.positively_homogeneous

    @property
    def idempotent(self) -> bool:
        """Whether ``f(f(z)) = f(z)`` (so ``R(R(z))`` reuses the inner neuron)."""
        return self._rule.idempotent

    @property
    def z3_exact(self) -> bool:
        """Whether :meth:`z3_facts` defines the value (False: sound facts only)."""
        return self._rule.z3_exact

    @property
    def onnx_op(self) -> str | None:
        """The ONNX operator (``Relu``, ``Sigmoid``), ``None`` for the identity."""
        return self._rule.onnx_op

    @property
    def torch_module(self) -> str:
        """The ``torch.nn`` module class name (``ReLU``, ``Sigmoid``, ``Identity``)."""
        return self._rule.torch_module

    @property
    def torch_function(self) -> str | None:
        """The ``torch``/``torch.nn.functional`` function name (``relu``, ``sigmoid``)."""
        return self._rule.torch_function

    @classmethod
    def from_onnx_op(cls, op: str) -> Activation:
        """The activation an ONNX operator computes (KeyError for other operators)."""
        return _BY_ONNX[op]

    @classmethod
    def of_function(cls, expr: sp.Basic) -> Activation | None:
        """The activation ``expr`` applies (``ReLU(z)`` -> RELU), ``None`` if it applies none.

        >>> Activation.of_function(Sigmoid(sp.Symbol('z')))
        <Activation.SIGMOID: 'sigmoid'>
        """
        return next((a for a in cls if a.function is not None and isinstance(expr, a.function)), None)


#: The activations the piecewise-linear engines handle (region enumeration, branch and bound, LP
#: bounds, the bab and regions certificates): they split a ReLU into its two phases.
RELU_AND_LINEAR = frozenset({Activation.LINEAR, Activation.RELU})

_RULES = {Activation.LINEAR: _Identity, Activation.RELU: _Rectifier, Activation.SIGMOID: _Logistic}
_BY_ONNX = {a.onnx_op: a for a in Activation if a.onnx_op is not None}


def _zero_like(lo, hi):
    """Zero of the interval ends' exact type (Fraction when both are unbounded)."""
    for end in (lo, hi):
        if end is not None:
            return end * 0
    return Fraction(0)


def _sigmoid_enclosure(z) -> tuple[Fraction, Fraction]:
    """Exact rationals ``lo <= S(z) <= hi`` for an exact rational ``z``, from mpmath's rigorous
    interval arithmetic at :data:`SIGMOID_INTERVAL_BITS` bits, rounded outward, within [0, 1]."""
    import mpmath

    ctx = mpmath.iv
    saved = ctx.prec
    try:
        ctx.prec = SIGMOID_INTERVAL_BITS
        value = _Logistic.enclose(ctx, ctx.mpf(int(z.numerator)) / ctx.mpf(int(z.denominator)))
    finally:
        ctx.prec = saved
    lo, hi = value._mpi_  # the raw ends (sign, mantissa, exponent, bits): no rounding on the way out
    return max(_dyadic(lo, floor=True), Fraction(0)), min(_dyadic(hi, floor=False), Fraction(1))


def _dyadic(end, floor: bool) -> Fraction:
    """An mpmath end ``(-1)**sign * man * 2**exp`` rounded down (or up) to a multiple of
    ``2**-SIGMOID_INTERVAL_BITS``, so that a sigmoid far out (``S(-10**6)``) has a short rational
    bound rather than a huge one."""
    sign, man, exp, _ = end
    if not man and exp:  # mpmath's special values (infinities, nan): the trivial bound
        return Fraction(0) if floor else Fraction(1)
    shift = int(exp) + SIGMOID_INTERVAL_BITS
    man = -int(man) if sign else int(man)
    scaled = man << shift if shift >= 0 else (man >> -shift if floor else -((-man) >> -shift))
    return Fraction(scaled, 2 ** SIGMOID_INTERVAL_BITS)
