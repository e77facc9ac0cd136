"""The one hierarchy of errors that mathcircuits raises on bad input or internal faults."""

from __future__ import annotations


class MathCircuitsError(Exception):
    """Base class: every error the toolkit raises on purpose derives from it."""


class InvalidCircuitError(MathCircuitsError, ValueError):
    """A circuit is malformed: unknown name, duplicate name, non-finite weight, cycle."""


class NonPiecewiseLinearError(MathCircuitsError, ValueError):
    """An expression is not piecewise-linear in the inputs (e.g. ``x1*x2`` or ``sin(x)``)."""


class UnsupportedExpressionError(MathCircuitsError, ValueError):
    """An expression uses an operation the encoder or evaluator cannot express exactly."""


class DomainError(MathCircuitsError, ValueError):
    """A domain is malformed or empty (e.g. ``[2, 1]`` or ``(0, 0)``)."""


class ParseError(MathCircuitsError, ValueError):
    """Text from a user could not be parsed by the whitelist parser."""


class ModelFormatError(MathCircuitsError, ValueError):
    """A model file is corrupt, truncated, unsafe or has inconsistent shapes."""


class UnsupportedLayerError(MathCircuitsError, ValueError):
    """A model uses layers or operations that are not affine or piecewise-linear."""


class ClaimError(MathCircuitsError, ValueError):
    """A claim is inconsistent: target variables that are not inputs, bad tolerance, ..."""


class CertificateError(MathCircuitsError, ValueError):
    """A certificate file is unreadable or malformed: bad JSON, a missing field, a bad number, a cap."""


class UndefinedValueError(UnsupportedExpressionError):
    """An expression has no value at a point: no piece of a Piecewise holds, ``H(0)`` without a
    value at 0, a division or a modulo by zero."""


class PartialTargetError(ClaimError):
    """A claim's target (or a symbolic weight) is undefined at a point of the domain; the message
    names such a point. A claim about a partial function is not decided."""


class LimitError(MathCircuitsError, ValueError):
    """Work would exceed a stated limit (nesting of symbolic inlining, size of a range, ...); the
    message names the limit and how to raise it."""


class TimeoutExpired(MathCircuitsError):
    """The wall-clock budget of a command ran out; deciders turn it into an ``unknown`` verdict
    with this message as the reason (the CLI exits 3, never 2)."""


class ReplayError(MathCircuitsError, AssertionError):
    """A solver counterexample did not replay exactly: a bug in the toolkit, never a result."""
