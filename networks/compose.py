"""Composition of circuits: feed the outputs of inner circuits into the inputs of an outer one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from symbolic import errors
from symbolic.circuit import Assignment, Circuit


def _copy(circuit: Circuit, prefix: str, mapping: dict[str, str]) -> list[Assignment]:
    out = []
    for a in circuit.assignments:
        mapping[a.name] = prefix + a.name
        terms = tuple((mapping[s], c) for s, c in a.terms)
        out.append(Assignment(prefix + a.name, terms, a.bias, a.activation))
    return out


def compose(
    outer: Circuit,
    inner: Mapping[str, Circuit],
    prefixes: Sequence[str] | None = None,
    output_prefix: str = "",
) -> Circuit:
    """The circuit ``outer(inner_1(...), inner_2(...), ...)``.

    ``inner`` maps some inputs of ``outer`` to circuits whose (single) output replaces them.
    Inputs of the inner circuits with the same name are shared; outer inputs not in ``inner``
    stay inputs. Neuron names get a prefix per part (``m1_``, ``m2_``, ... and ``top_``) so
    that nothing clashes; the outer outputs keep their names (with ``output_prefix``).

    >>> from networks.library import make_minimum
    >>> m4 = compose(make_minimum(), {'x1': make_minimum(('x1', 'x2')), 'x2': make_minimum(('x3', 'x4'))})
    >>> m4.inputs, len(m4.neurons)
    (('x1', 'x2', 'x3', 'x4'), 9)
    """
    unknown = [name for name in inner if name not in outer.inputs]
    if unknown:
        raise errors.InvalidCircuitError(f"compose: {unknown} are not inputs of the outer circuit")
    prefixes = list(prefixes) if prefixes is not None else [f"m{i}_" for i in range(1, len(inner) + 1)]
    if len(prefixes) != len(inner):
        raise errors.InvalidCircuitError(f"compose: {len(prefixes)} prefixes for {len(inner)} inner circuits")
    inputs: list[str] = []
    for name in outer.inputs:
        if name in inner:
            inputs.extend(n for n in inner[name].inputs if n not in inputs)
        elif name not in inputs:
            inputs.append(name)
    assignments: list[Assignment] = []
    outer_map: dict[str, str] = {}
    for (slot, circuit), prefix in zip(inner.items(), prefixes):
        mapping = {n: n for n in circuit.inputs}
        assignments += _copy(circuit, prefix, mapping)
        outer_map[slot] = mapping[circuit.output]
    for name in outer.inputs:
        outer_map.setdefault(name, name)
    top = "top_"
    out_names = {o: output_prefix + o for o in outer.outputs}
    for a in outer.assignments:
        new = out_names.get(a.name, top + a.name)
        outer_map[a.name] = new
        assignments.append(Assignment(new, tuple((outer_map[s], c) for s, c in a.terms), a.bias, a.activation))
    return Circuit(tuple(inputs), tuple(assignments), tuple(outer_map[o] for o in outer.outputs))
