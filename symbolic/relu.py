"""The ReLU function as a sympy ``Function``: R(z) = max(0, z)."""

from __future__ import annotations

import sympy as sp


class ReLU(sp.Function):
    """Rectified linear unit ``R(z) = max(0, z)``, printed ``R(z)``.

    Like sympy's own ``Heaviside`` and ``Max``, it evaluates only in the decidable cases
    (numbers, known signs) and pulls positive constant factors out, so that the positive
    scaling symmetry ``R(c z) = c R(z)`` (c > 0) holds syntactically.

    >>> import sympy as sp
    >>> x, y = sp.symbols('x y', real=True)
    >>> ReLU(3), ReLU(-2), ReLU(sp.Rational(1, 2))
    (3, 0, 1/2)
    >>> ReLU(2*x - 4*y)
    2*R(x - 2*y)
    >>> ReLU(x**2)
    x**2
    >>> ReLU(x).rewrite(sp.Max)
    Max(0, x)
    """

    nargs = 1
    symbol = "R"  # the printed name (str, LaTeX, MathML)
    is_real = True
    is_extended_real = True
    is_nonnegative = True
    is_extended_nonnegative = True

    @classmethod
    def eval(cls, arg):
        """Return a value in the decidable cases, ``None`` otherwise."""
        if arg is sp.nan:
            return sp.nan
        if arg.is_extended_nonnegative:
            return arg
        if arg.is_extended_nonpositive:
            return sp.S.Zero
        if arg.is_Number:
            return arg if arg > 0 else sp.S.Zero
        content, primitive = arg.as_content_primitive()
        if content.is_Rational and content > 0 and content != 1:
            return content * cls(primitive)
        coeff, rest = arg.as_coeff_Mul()
        if coeff.is_Rational and coeff.is_positive and coeff != 1:
            return coeff * cls(rest)
        return None

    def fdiff(self, argindex=1):
        """Derivative: the Heaviside step of the argument (undefined at 0, as for ``Abs``)."""
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return sp.Heaviside(self.args[0])

    # sympy recomputes ``free_symbols`` and ``is_number`` over the whole tree on every call (its
    # sign deduction asks them for each new neuron); remembering them on each ReLU keeps inlining a
    # deep circuit linear instead of quadratic. Expressions are immutable, so the cache is exact.
    @property
    def free_symbols(self) -> set:
        cached = self.__dict__.get("_free_symbols")
        if cached is None:
            cached = self.__dict__["_free_symbols"] = self.args[0].free_symbols
        return cached

    @property
    def is_number(self) -> bool:
        cached = self.__dict__.get("_is_number")
        if cached is None:
            cached = self.__dict__["_is_number"] = self.args[0].is_number
        return cached

    def _eval_rewrite_as_Max(self, arg, **kwargs):
        return sp.Max(0, arg)

    def _eval_rewrite_as_Piecewise(self, arg, **kwargs):
        return sp.Piecewise((arg, arg > 0), (0, True))

    def _eval_rewrite_as_Heaviside(self, arg, **kwargs):
        return arg * sp.Heaviside(arg)

    def _eval_rewrite_as_Abs(self, arg, **kwargs):
        return (arg + sp.Abs(arg)) / 2

    # An unevaluated R(z) has an argument of unknown sign (``eval`` returns z or 0 otherwise), so
    # asking z again only costs time: on a deep nest of ReLUs sympy's sign deduction recursed
    # through every level for every new neuron (to_expr of a 100-deep chain took 14 s). Only
    # atoms, whose assumptions are stored, are consulted.
    def _eval_is_zero(self):
        arg = self.args[0]
        if not arg.is_Atom:
            return None
        if arg.is_extended_positive:
            return False
        if arg.is_extended_nonpositive:
            return True
        return None

    def _eval_is_positive(self):
        arg = self.args[0]
        return arg.is_extended_positive if arg.is_Atom else None

    def _sympystr(self, printer):
        return f"{self.symbol}({printer.doprint(self.args[0])})"

    def _latex(self, printer):
        return rf"\operatorname{{{self.symbol}}}\left({printer.doprint(self.args[0])}\right)"

    def _mathml_presentation(self, printer):
        return _mathml_call(printer, self.symbol, self.args[0])


class Sigmoid(sp.Function):
    """The logistic function ``S(z) = 1 / (1 + exp(-z))``, printed ``S(z)``.

    >>> Sigmoid(0)
    1/2
    """

    nargs = 1
    symbol = "S"  # the printed name (str, LaTeX, MathML)
    is_real = True
    is_extended_real = True
    is_positive = True

    @classmethod
    def eval(cls, arg):
        """``S(0) = 1/2`` exactly; every other value stays symbolic (it is transcendental)."""
        if arg.is_zero:
            return sp.Rational(1, 2)
        return None

    def fdiff(self, argindex=1):
        """Derivative ``S(z) (1 - S(z))``."""
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return 1 / (1 + sp.exp(-arg))

    def _eval_evalf(self, prec):
        return (1 / (1 + sp.exp(-self.args[0])))._eval_evalf(prec)

    def _sympystr(self, printer):
        return f"{self.symbol}({printer.doprint(self.args[0])})"

    def _latex(self, printer):
        return rf"\operatorname{{{self.symbol}}}\left({printer.doprint(self.args[0])}\right)"

    def _mathml_presentation(self, printer):
        return _mathml_call(printer, self.symbol, self.args[0])


def _mathml_call(printer, name: str, arg):
    """Presentation MathML for ``name(arg)``."""
    row = printer.dom.createElement("mrow")
    ident = printer.dom.createElement("mi")
    ident.appendChild(printer.dom.createTextNode(name))
    row.appendChild(ident)
    for piece in ("(", None, ")"):
        if piece is None:
            row.appendChild(printer._print(arg))
        else:
            mo = printer.dom.createElement("mo")
            mo.appendChild(printer.dom.createTextNode(piece))
            row.appendChild(mo)
    return row


def R(arg) -> sp.Expr:
    """Shorthand for ``ReLU(arg)``.

    >>> import sympy as sp
    >>> x = sp.Symbol('x', real=True)
    >>> R(2*x)
    2*R(x)
    """
    if isinstance(arg, str):
        raise TypeError("R() takes a sympy expression or a number, not text (use the whitelist parser)")
    return ReLU(arg if isinstance(arg, sp.Basic) else sp.Rational(arg))


def sym(name: str) -> sp.Symbol:
    """The sympy symbol used for variable ``name`` everywhere in mathcircuits (real-valued).

    >>> sym('x1').is_real
    True
    """
    return sp.Symbol(name, real=True)
