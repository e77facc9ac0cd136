"""The circuit: an ordered straight-line program of named, exact affine(+activation) assignments."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from fractions import Fraction

import sympy as sp

from symbolic import errors
from symbolic.activation import Activation
from symbolic.assignment import _NAME, Assignment
from symbolic.exact import fraction_of, to_exact, to_fraction
from symbolic.relu import sym

__all__ = ["MAX_INLINE_DEPTH", "MAX_INLINE_SIZE", "Activation", "Assignment", "Builder", "Circuit",
           "default_names", "from_layers", "to_exact", "to_fraction"]

#: Inlining a circuit into one sympy formula (to_expr, closed forms) nests one function call per
#: activation on the longest path and copies shared sub-expressions; sympy recurses over formulas
#: (printing failed at 100 nested ReLUs), so deeper or larger ones are refused with LimitError.
MAX_INLINE_DEPTH = 50
MAX_INLINE_SIZE = 100_000


@dataclasses.dataclass(frozen=True)
class Circuit:
    """An ordered straight-line program over named inputs, e.g. the minimum::

        h1 = R(x1);  h2 = R(-x1);  h3 = R(x1 - x2);  y = h1 - h2 - h3

    >>> c = Circuit(('x',), (Assignment('h1', (('x', 1),)), Assignment('h2', (('x', -1),)),
    ...     Assignment('y', (('h1', 1), ('h2', -1)), activation=Activation.LINEAR)), ('y',))
    >>> c.to_expr()
    -R(-x) + R(x)
    >>> c.evaluate({'x': -5})
    (Fraction(-5, 1),)
    """

    inputs: tuple[str, ...]
    assignments: tuple[Assignment, ...]
    outputs: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "assignments", tuple(self.assignments))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        problems: list[str] = []
        seen: set[str] = set()
        for name in self.inputs:
            if not isinstance(name, str) or not _NAME.match(name):
                problems.append(f"input name {name!r} is not an identifier")
            elif name in seen:
                problems.append(f"input {name!r} is declared twice")
            seen.add(name)
        for a in self.assignments:
            if not isinstance(a, Assignment):
                problems.append(f"{a!r} is not an Assignment")
                continue
            if a.name in seen:
                problems.append(f"name {a.name!r} is assigned twice (or shadows an input)")
            unknown = [s for s in a.sources if s not in seen]
            if unknown:
                problems.append(f"{a.name} reads {', '.join(unknown)} before it is defined")
            seen.add(a.name)
        if not self.outputs:
            problems.append("a circuit needs at least one output")
        for name in self.outputs:
            if name not in seen:
                problems.append(f"output {name!r} is not a defined name")
        clash = {str(p) for p in self.parameters} & seen
        if clash:
            problems.append(f"parameter names clash with circuit names: {sorted(clash)}")
        if problems:
            raise errors.InvalidCircuitError("invalid circuit: " + "; ".join(problems))

    # -- structure -------------------------------------------------------------------------
    @functools.cached_property
    def by_name(self) -> dict[str, Assignment]:
        """Assignments indexed by name."""
        return {a.name: a for a in self.assignments}

    @functools.cached_property
    def parameters(self) -> tuple[sp.Symbol, ...]:
        """Free symbols of the coefficients (symbolic weights such as ``w1``), sorted by name."""
        free: set[sp.Symbol] = set()
        for a in self.assignments:
            for _, c in a.terms:
                free |= c.free_symbols
            free |= a.bias.free_symbols
        return tuple(sorted(free, key=str))

    @property
    def neurons(self) -> tuple[Assignment, ...]:
        """Assignments with a non-linear activation (the hidden units and activated outputs)."""
        return tuple(a for a in self.assignments if a.activation is not Activation.LINEAR)

    @property
    def output(self) -> str:
        """The single output's name (error if the circuit has several)."""
        if len(self.outputs) != 1:
            raise errors.InvalidCircuitError(f"circuit has {len(self.outputs)} outputs, not 1")
        return self.outputs[0]

    def depth(self) -> dict[str, int]:
        """Number of activations on the longest path from an input to each name."""
        depth = {name: 0 for name in self.inputs}
        for a in self.assignments:
            base = max((depth[s] for s in a.sources), default=0)
            depth[a.name] = base + (a.activation is not Activation.LINEAR)
        return depth

    def consumers(self) -> dict[str, list[tuple[str, sp.Expr]]]:
        """For each name, the assignments reading it and the weight they use."""
        out: dict[str, list[tuple[str, sp.Expr]]] = {n: [] for n in self.inputs}
        for a in self.assignments:
            out[a.name] = []
            for s, c in a.terms:
                out[s].append((a.name, c))
        return out

    # -- meaning ---------------------------------------------------------------------------
    def cone(self, names: Iterable[str]) -> tuple[Assignment, ...]:
        """The assignments that ``names`` depend on, in program order."""
        needed = set(names)
        for a in reversed(self.assignments):
            if a.name in needed:
                needed.update(a.sources)
        return tuple(a for a in self.assignments if a.name in needed)

    def check_inlinable(self, names: Iterable[str] | None = None, max_depth: int | None = None,
                        max_size: int | None = None) -> None:
        """Raise :class:`~symbolic.errors.LimitError` if inlining ``names`` (default: the outputs)
        into single formulas would nest more than ``max_depth`` activations or copy more than
        ``max_size`` nodes (:data:`MAX_INLINE_DEPTH`, :data:`MAX_INLINE_SIZE`).

        >>> from symbolic.circuit import from_layers
        >>> chain = from_layers([([[1]], [-1])] * 60 + [([[1]], None)])
        >>> chain.check_inlinable()
        Traceback (most recent call last):
        symbolic.errors.LimitError: inlining y into one formula nests 60 activations; the limit is 50 (symbolic.circuit.MAX_INLINE_DEPTH), since sympy walks formulas recursively. Claims about this network are still decided: deciding never inlines
        """
        max_depth = MAX_INLINE_DEPTH if max_depth is None else max_depth
        max_size = MAX_INLINE_SIZE if max_size is None else max_size
        names = tuple(self.outputs if names is None else names)
        depth = {name: 0 for name in self.inputs}
        size = {name: 1 for name in self.inputs}
        for a in self.cone(names):
            depth[a.name] = max((depth[s] for s in a.sources), default=0) + (a.activation is not Activation.LINEAR)
            size[a.name] = min(max_size + 1, 2 + sum(size[s] + 1 for s in a.sources))
        for name in names:
            if depth[name] > max_depth:
                raise errors.LimitError(
                    f"inlining {name} into one formula nests {depth[name]} activations; the limit is "
                    f"{max_depth} (symbolic.circuit.MAX_INLINE_DEPTH), since sympy walks formulas "
                    "recursively. Claims about this network are still decided: deciding never inlines")
            if size[name] > max_size:
                raise errors.LimitError(
                    f"inlining {name} into one formula copies shared neurons into more than {max_size} "
                    "terms (symbolic.circuit.MAX_INLINE_SIZE). Claims about this network are still "
                    "decided: deciding never inlines")

    def expressions(self, names: Iterable[str] | None = None, deadline=None) -> dict[str, sp.Expr]:
        """``names`` (default: every name) inlined to sympy expressions over the input symbols.

        Refused with :class:`~symbolic.errors.LimitError` beyond the inlining limits (see
        :meth:`check_inlinable`); ``deadline`` (a :class:`symbolic.budget.Deadline`) is checked
        per assignment.
        """
        names = tuple(self.by_name) if names is None else tuple(n for n in names if n not in self.inputs)
        self.check_inlinable(names)
        env: dict[str, sp.Expr] = {name: sym(name) for name in self.inputs}
        for a in self.cone(names):
            if deadline is not None:
                deadline.check("inlining the network into one formula")
            env[a.name] = a.apply(a.pre_activation(env))
        return env

    def to_expr(self, output: str | None = None, deadline=None) -> sp.Expr:
        """The output ``output`` (default: the only one) inlined into one expression."""
        name = output or self.output
        return self.expressions([name], deadline)[name]

    @functools.cached_property
    def _fraction_program(self):
        program = []
        for a in self.assignments:
            if any(not c.is_Rational for _, c in a.terms) or not a.bias.is_Rational:
                return None
            terms = tuple((s, fraction_of(c)) for s, c in a.terms)
            program.append((a.name, terms, fraction_of(a.bias), a.activation))
        return tuple(program)

    def evaluate_all(self, point: Mapping[str, object]) -> dict[str, object]:
        """Exact values of every name at ``point`` (inputs, and parameters if any).

        Values are ``Fraction`` for ReLU/linear circuits; a sigmoid yields an exact sympy number.
        """
        missing = [n for n in self.inputs if n not in point]
        missing += [str(p) for p in self.parameters if str(p) not in point]
        if missing:
            raise errors.InvalidCircuitError(f"no value given for {', '.join(missing)}")
        env: dict[str, object] = {n: to_fraction(point[n], n) for n in self.inputs}
        program = self._fraction_program
        if program is None:
            subs = {p: sp.Rational(to_fraction(point[str(p)], str(p))) for p in self.parameters}
            program = []
            for a in self.assignments:
                terms = tuple((s, _number(c.subs(subs), a.name)) for s, c in a.terms)
                program.append((a.name, terms, _number(a.bias.subs(subs), a.name), a.activation))
        for name, terms, bias, activation in program:
            total = bias
            for s, c in terms:
                total = total + c * env[s]
            env[name] = activation.exact(total)
        return env

    @functools.cached_property
    def _float_program(self):
        program = self._fraction_program
        if program is None:
            return None
        return tuple((name, tuple((s, float(c)) for s, c in terms), float(bias), act)
                     for name, terms, bias, act in program)

    def evaluate_float(self, point: Mapping[str, float]) -> tuple[float, ...]:
        """Approximate outputs in floating point: only to *guide* a search, never to decide.

        >>> from symbolic.circuit import from_layers
        >>> from_layers([([[1], [-1]], None), ([[1, 1]], None)]).evaluate_float({'x': -2.5})
        (2.5,)
        """
        program = self._float_program
        if program is None:
            raise errors.InvalidCircuitError("float evaluation needs numeric weights")
        env = {n: float(point[n]) for n in self.inputs}
        for name, terms, bias, activation in program:
            env[name] = activation.approx(bias + sum(c * env[s] for s, c in terms))
        return tuple(env[o] for o in self.outputs)

    def evaluate(self, point: Mapping[str, object]) -> tuple:
        """Exact output values at ``point``."""
        env = self.evaluate_all(point)
        return tuple(env[o] for o in self.outputs)

    def _assignment_exprs(self) -> list[tuple[str, sp.Expr]]:
        env = {n: sym(n) for n in self.inputs} | {a.name: sym(a.name) for a in self.assignments}
        return [(a.name, a.apply(a.pre_activation(env))) for a in self.assignments]

    def _repr_latex_(self) -> str:
        """Notebook display: the program as aligned LaTeX equations."""
        rows = [rf"{sp.latex(sym(name))} &= {sp.latex(expr)}" for name, expr in self._assignment_exprs()]
        return r"$\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$"

    def _repr_html_(self) -> str:
        """Notebook display: the circuit's diagram, then one row per assignment, formulas as
        presentation MathML."""
        from html import escape

        from symbolic.circuit_to_svg import diagram_html  # imported here: it imports this module

        rows = "".join(
            f"<tr><td><code>{escape(name)}</code></td>"
            f"<td><math>{sp.mathml(expr, printer='presentation')}</math></td></tr>"
            for name, expr in self._assignment_exprs()
        )
        head = f"<caption>inputs {escape(', '.join(self.inputs))}; outputs {escape(', '.join(self.outputs))}</caption>"
        return f"{diagram_html(self)}<table>{head}{rows}</table>"

    def __str__(self) -> str:
        lines = [f"inputs: {', '.join(self.inputs)}"]
        env = {n: sym(n) for n in self.inputs} | {a.name: sym(a.name) for a in self.assignments}
        for a in self.assignments:
            lines.append(f"{a.name} = {sp.sstr(a.apply(a.pre_activation(env)))}")
        lines.append(f"outputs: {', '.join(self.outputs)}")
        return "\n".join(lines)

    # -- editing ---------------------------------------------------------------------------
    def with_layer_names(self) -> Circuit:
        """A copy whose hidden assignments (all but the outputs) are named ``h{depth}_{index}``, the
        names :func:`from_layers` gives, whatever the loader (``hh...`` when an input or output is
        named like that). ``depth`` counts activations on the longest path from an input.

        >>> net = Circuit(('x',), (Assignment('a', (('x', sp.Integer(1)),), sp.Integer(0), Activation.RELU),
        ...                        Assignment('y', (('a', sp.Integer(2)),), sp.Integer(0), Activation.LINEAR)), ('y',))
        >>> print(net.with_layer_names())
        inputs: x
        h1_1 = R(x)
        y = 2*h1_1
        outputs: y
        """
        fixed = (*self.inputs, *self.outputs)
        stem = "h"
        while any(re.fullmatch(re.escape(stem) + r"\d+_\d+", n) for n in fixed):
            stem += "h"
        depth, counts, mapping = self.depth(), {}, {}
        for a in self.assignments:
            if a.name in self.outputs:
                continue
            counts[depth[a.name]] = counts.get(depth[a.name], 0) + 1
            mapping[a.name] = f"{stem}{depth[a.name]}_{counts[depth[a.name]]}"
        return self.renamed(mapping)

    def renamed(self, mapping: Mapping[str, str]) -> Circuit:
        """A copy with names replaced by ``mapping``; names not in it are kept, unless a name of
        ``mapping`` takes them: those move to ``name_1``, ``name_2``, ... (so renaming the inputs
        of a loaded network to ``h1_1`` does not clash with its hidden neuron ``h1_1``).

        >>> from symbolic.circuit import from_layers
        >>> net = from_layers([([[1], [-1]], None), ([[1, 1]], None)])
        >>> print(net.renamed({'x': 'h1_1'}))
        inputs: h1_1
        h1_1_1 = R(h1_1)
        h1_2 = R(-h1_1)
        y = h1_1_1 + h1_2
        outputs: y
        """
        taken = {mapping[n] for n in mapping if n in self.by_name or n in self.inputs}
        final: dict[str, str] = {}
        for name in (*self.inputs, *self.by_name):
            if name in mapping:
                final[name] = mapping[name]
                continue
            new, k = name, 0
            while new in taken:
                k += 1
                new = f"{name}_{k}"
            final[name] = new
            taken.add(new)

        def r(name: str) -> str:
            return final.get(name, name)

        assignments = tuple(
            Assignment(r(a.name), tuple((r(s), c) for s, c in a.terms), a.bias, a.activation)
            for a in self.assignments
        )
        return Circuit(tuple(r(n) for n in self.inputs), assignments, tuple(r(o) for o in self.outputs))


def _number(value: sp.Expr, where: str):
    if value.is_Rational:
        return fraction_of(value)
    if value.is_number and value.is_finite:
        return value
    raise errors.InvalidCircuitError(f"coefficient in {where} evaluates to {value}, not a number")


def __getattr__(name: str):
    """``Builder``, ``from_layers`` and ``default_names`` live in :mod:`symbolic.layers_to_circuit`,
    which imports :class:`Circuit`; they are importable from here too (loaded on first use, so that
    either module may be imported first)."""
    if name in ("Builder", "from_layers", "default_names"):
        from symbolic import layers_to_circuit

        return getattr(layers_to_circuit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
