"""Import torch models (modules, state dicts, ``torch.export`` programs) into exact circuits.

``torch`` is imported lazily inside the functions. An ``nn.Sequential`` of Linear/ReLU/Sigmoid/
Identity/Flatten takes a fast path (hidden neurons ``h{layer}_{i}``, as in ``from_layers``); any
other module is traced with ``torch.fx`` and, like an exported program, walked node by node by one
interpreter (:class:`_GraphImporter`) over the shared
:class:`networks.tensors_to_circuit.Tracer`. Affine operations stay symbolic; neurons
``h1, h2, ...`` appear at activations, outputs are ``y``/``y1..``. Files are read elsewhere:
``.pt`` state dicts by :mod:`networks.pt_to_circuit`, ``.pt2`` programs (without torch) by
:mod:`networks.pt2_to_circuit`.
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Sequence

from networks.exact_tensors import (
    BATCH, Unsupported, exact_array, input_names_for, raise_unsupported,
)
from networks.model_limits import ModelLimits, too_big
from networks.tensors_to_circuit import Tracer
from networks.torch_ops import ATEN, HANDLERS, METHODS
from symbolic.circuit import Activation, Circuit, from_layers
from symbolic.errors import InvalidCircuitError, ModelFormatError, UnsupportedLayerError

_POISON = object()  # the value of a node downstream of an unsupported one


def check_tensor(tensor, what: str, cap: int | None = None) -> None:
    """Refuse a tensor that is not a dense CPU tensor of at most ``cap`` elements."""
    import torch

    cap = cap or ModelLimits().max_weights
    if tensor.layout != torch.strided or tensor.is_quantized or tensor.is_nested:
        raise ModelFormatError(f"{what} is a {tensor.layout} tensor, not a dense one")
    if tensor.device.type != "cpu":
        raise ModelFormatError(f"{what} is on device {tensor.device.type}, not a CPU tensor")
    if tensor.numel() > cap:
        raise too_big(f"{what}: elements:", tensor.numel(), cap, "max_weights")


def exact_tensor(tensor, what: str):
    """A torch tensor as a numpy object array of exact Fractions (float32 -> exact binary value)."""
    import torch

    check_tensor(tensor, what)
    t = tensor.detach().cpu()
    if t.is_complex() or t.dtype == torch.bool:
        raise ModelFormatError(f"{what} has dtype {t.dtype}, not a real number type")
    return exact_array((t.to(torch.float64) if t.is_floating_point() else t).numpy(), what)


def from_module(
    module, input_names: Sequence[str] | None = None, input_width: int | None = None
) -> Circuit:
    """The exact circuit of a torch ``nn.Module`` (fast path for ``nn.Sequential``, else torch.fx).

    One input tensor of shape [batch, n] gives inputs ``x1..xn`` (``x`` when n == 1) unless
    ``input_names`` is given; ``n`` comes from ``input_width`` or the first Linear layer. Several
    ``forward`` arguments are taken as [batch, 1] tensors named after the arguments.
    """
    import torch

    if isinstance(module, torch.export.ExportedProgram):
        return from_exported_program(module, input_names)
    if not isinstance(module, torch.nn.Module):
        raise ModelFormatError(f"expected a torch nn.Module, got {type(module).__name__}")
    if isinstance(module, torch.nn.Sequential):
        layers = _sequential_layers(module, input_width, input_names)
        if layers is not None:
            return layers_circuit(layers, input_names)
    name = type(module).__name__
    try:
        graph_module = torch.fx.symbolic_trace(module)
    except Exception as exc:  # noqa: BLE001 - tracing failures come in many types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UnsupportedLayerError(
            f"cannot trace {name} with torch.fx (data-dependent control flow?): {first}"
        ) from None
    importer = _GraphImporter(graph_module.graph, f"module {name}", graph_module)
    placeholders = [n for n in graph_module.graph.nodes if n.op == "placeholder"]
    widths = [1] * len(placeholders)
    if len(placeholders) == 1:
        widths = [input_width or importer.linear_width(placeholders[0]) or len(input_names or ())]
        if not widths[0]:
            raise ModelFormatError(f"cannot tell the input width of {name}: pass input_width=")
    groups = input_names_for(widths, [p.name for p in placeholders], input_names)
    for node, names in zip(placeholders, groups):
        importer.env[node.name] = importer.tracer.add_inputs(names)
    return importer.run()


def _leaves(module):
    import torch

    for child in module.children() if isinstance(module, torch.nn.Sequential) else [module]:
        yield from (_leaves(child) if isinstance(child, torch.nn.Sequential) else [child])


def _sequential_layers(seq, input_width, input_names):
    """[[W, b, activation]] for a plain Sequential, or None when the fx path must handle it."""
    import torch.nn as nn

    leaves = list(_leaves(seq))
    activations = [(getattr(nn, act.torch_module), act) for act in Activation if act.torch_function]
    plain = (nn.Linear, nn.Identity, *(cls for cls, _ in activations))
    if not all(isinstance(m, plain) or type(m) is nn.Flatten and m.start_dim == 1 for m in leaves):
        return None
    linears = [m for m in leaves if isinstance(m, nn.Linear)]
    width = linears[0].in_features if linears else input_width or len(input_names or ())
    if not width:
        raise ModelFormatError("cannot tell the input width of a Sequential without Linear layers")
    if input_width is not None and input_width != width:
        raise ModelFormatError(f"input_width={input_width} but the first Linear takes {width}")
    layers: list[list] = []
    for k, m in enumerate(leaves):
        if isinstance(m, nn.Linear):
            if m.in_features != width:
                raise ModelFormatError(f"layer {k}: Linear takes {m.in_features}, gets {width}")
            bias = None if m.bias is None else exact_tensor(m.bias, f"layer {k} bias").tolist()
            weight = exact_tensor(m.weight, f"layer {k} weight").tolist()
            layers.append([weight, bias, Activation.LINEAR])
            width = m.out_features
        elif act := next((a for cls, a in activations if isinstance(m, cls)), None):
            if layers and layers[-1][2] is Activation.LINEAR:
                layers[-1][2] = act
            elif not (layers and layers[-1][2] is act and act.idempotent):  # R(R(z)) = R(z)
                layers.append([_identity(width), None, act])
    return layers or [[_identity(width), None, Activation.LINEAR]]


def _identity(n: int) -> list[list[int]]:
    return [[int(i == j) for j in range(n)] for i in range(n)]


def layers_circuit(layers: list, input_names: Sequence[str] | None) -> Circuit:
    """The dense circuit of ``[[W, b, activation], ...]`` (W as nested lists, [out, in])."""
    names = input_names_for([len(layers[0][0][0])], ["x"], input_names)[0]
    try:
        return from_layers([(w, b) for w, b, _ in layers], names, [a for _, _, a in layers])
    except InvalidCircuitError as exc:
        raise ModelFormatError(str(exc)) from None


# -- state dicts ------------------------------------------------------------------------------
def load_state_dict_file(
    path: str | os.PathLike, architecture=None, input_names: Sequence[str] | None = None,
    limits: ModelLimits | None = None,
) -> Circuit:
    """A circuit from a ``.pt``/``.pth`` state dict (see :func:`networks.pt_to_circuit.load_pt`)."""
    from networks.pt_to_circuit import load_pt

    return load_pt(path, architecture, input_names, limits)


# -- torch.export -----------------------------------------------------------------------------
def load_exported_program(
    path: str | os.PathLike, input_names: Sequence[str] | None = None,
    limits: ModelLimits | None = None,
) -> Circuit:
    """The circuit of a ``.pt2`` file written by ``torch.export.save`` (read without torch)."""
    from networks.pt2_to_circuit import load_pt2

    return load_pt2(path, input_names, limits)


def user_input_shape(name: str, shape: Sequence) -> tuple:
    """A torch input's tracer shape: the first dimension is the batch, the others concrete."""
    if not shape:
        raise ModelFormatError(f"input {name} is a scalar; expected a tensor [batch, ...]")
    rest = []
    for d in shape[1:]:
        try:
            rest.append(int(d))
        except (TypeError, ValueError):
            raise ModelFormatError(f"input {name} has shape {list(shape)}: only the first "
                                   "(batch) dimension may be symbolic") from None
    return (BATCH, *rest)


def from_exported_program(
    program, input_names: Sequence[str] | None = None, what: str = "exported program"
) -> Circuit:
    """The circuit of a ``torch.export.ExportedProgram`` (its aten graph, walked node by node)."""
    import torch
    from torch.export.graph_signature import InputKind, OutputKind

    graph = program.graph_module.graph
    importer = _GraphImporter(graph, what)
    nodes = {n.name: n for n in graph.nodes if n.op == "placeholder"}
    users, widths = [], []
    tensors = {**program.state_dict, **program.constants}
    for spec in program.graph_signature.input_specs:
        name = spec.arg.name
        if spec.kind is InputKind.USER_INPUT:
            shape = tuple(getattr(nodes[name].meta.get("val"), "shape", ()))
            users.append((name, user_input_shape(name, shape)))
            widths.append(math.prod(shape[1:]) if shape else 1)
        elif isinstance(tensors.get(spec.target), torch.Tensor):
            label = f"{spec.kind.name.lower()} {spec.target}"
            importer.env[name] = exact_tensor(tensors[spec.target], label)
        else:
            importer.problems.append(f"{name} ({spec.kind.name} input)")
            importer.env[name] = _POISON
    groups = input_names_for(widths, [u for u, _ in users], input_names)
    for (name, shape), group in zip(users, groups):
        importer.env[name] = importer.tracer.add_inputs(group, shape)
    keep = [s.kind is OutputKind.USER_OUTPUT for s in program.graph_signature.output_specs]
    return importer.run(keep)


# -- the shared interpreter -------------------------------------------------------------------
def _function_table() -> dict:
    """call_function targets -> op: Python callables, and the aten overloads of ``ATEN``."""
    import torch
    import torch.nn.functional as F

    table = {
        "linear": [F.linear],
        **{act.torch_function: [getattr(torch, act.torch_function), getattr(F, act.torch_function)]
           for act in Activation if act.torch_function},
        "neg": [operator.neg, torch.neg], "add": [operator.add, torch.add],
        "sub": [operator.sub, torch.sub], "mul": [operator.mul, torch.mul],
        "div": [operator.truediv, torch.div],
        "cat": [torch.cat, torch.concat, torch.concatenate], "stack": [torch.stack],
        "getitem": [operator.getitem], "getattr": [getattr], "reshape": [torch.reshape],
        "unsqueeze": [torch.unsqueeze], "squeeze": [torch.squeeze], "flatten": [torch.flatten],
        "t": [torch.t], "permute": [torch.permute], "transpose": [torch.transpose],
        "addmm": [torch.addmm], "matmul": [torch.matmul, torch.mm, operator.matmul],
    }
    out = {target: op for op, targets in table.items() for target in targets}
    for name, op in ATEN.items():
        packet, _, overload = name.partition(".")
        target = getattr(getattr(torch.ops.aten, packet, None), overload, None)
        if target is not None:
            out[target] = op
    return out


class _GraphImporter:
    """Walks a torch.fx graph (symbolic_trace or torch.export) node by node into a Tracer."""

    def __init__(self, graph, what: str, module=None):
        self.graph, self.what, self.module = graph, what, module
        self.tracer = Tracer()
        self.env: dict[str, object] = {}
        self.problems: list[str] = []
        self.functions = _function_table()

    def _op(self, node):
        import torch.nn as nn

        if node.op == "call_module":
            mod = self.module.get_submodule(node.target)
            kinds = [(nn.Linear, "module_linear"), (nn.Identity, "identity"), (nn.Flatten, "module_flatten"),
                     *((getattr(nn, act.torch_module), act.torch_function) for act in Activation if act.torch_function)]
            return next((op for cls, op in kinds if isinstance(mod, cls)), None), mod
        if node.op == "call_method":
            return METHODS.get(node.target), None
        try:
            return self.functions.get(node.target), None
        except TypeError:  # unhashable target
            return None, None

    def _describe(self, node, mod) -> str:
        from torch.fx.node import _get_qualified_name

        if node.op in ("call_module", "call_method"):
            kind = f"{type(mod).__name__} module" if mod else f"method .{node.target}()"
            return f"{node.name} ({kind})"
        try:
            return f"{node.name} ({node.op} {_get_qualified_name(node.target)})"
        except Exception:  # noqa: BLE001 - not every target has a qualified name
            return f"{node.name} ({node.op} {node.target})"

    def linear_width(self, placeholder) -> int | None:
        """in_features of the first Linear fed (through elementwise ops) by ``placeholder``."""
        feeding = {placeholder.name}
        for node in self.graph.nodes:
            if node.op.startswith("call_") and node.args:
                op, mod = self._op(node)
                if getattr(node.args[0], "name", None) not in feeding:
                    continue
                if op == "module_linear":
                    return mod.in_features
                if op == "linear":
                    weight = node.args[1] if len(node.args) > 1 else node.kwargs["weight"]
                    return int(self._attr(weight).shape[1]) if weight.op == "get_attr" else None
                if op in ("relu", "sigmoid", "identity", "module_flatten", "neg"):
                    feeding.add(node.name)
        return None

    def _attr(self, node):
        value = self.module
        for part in node.target.split("."):
            value = getattr(value, part)
        return value

    def run(self, keep: Sequence[bool] | None = None) -> Circuit:
        """Interpret every node, then build the circuit (or raise one error naming all problems)."""
        import torch

        def value(node):
            return self.env[node.name]

        outputs = None
        for node in self.graph.nodes:
            if node.op == "output":
                outputs = torch.fx.node.map_arg(node.args[0], value)
                break
            if node.op == "get_attr":
                attr = self._attr(node)
                is_tensor = isinstance(attr, torch.Tensor)
                self.env[node.name] = exact_tensor(attr, node.target) if is_tensor else attr
            if node.op in ("placeholder", "get_attr"):
                continue
            op, mod = self._op(node)
            if op is None:
                self.problems.append(self._describe(node, mod))
                self.env[node.name] = _POISON
                continue
            args = torch.fx.node.map_arg(node.args, value)
            kwargs = torch.fx.node.map_arg(node.kwargs, value)
            self.env[node.name] = _POISON
            if _poisoned(args) or _poisoned(kwargs):
                continue
            try:
                self.env[node.name] = self._apply(op, mod, list(args), dict(kwargs), node.name)
            except Unsupported as exc:
                self.problems.append(f"{self._describe(node, mod)}: {exc}")
            except ModelFormatError as exc:
                raise type(exc)(f"{self.what}: {self._describe(node, mod)}: {exc}") from None
            except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
                self.problems.append(f"{self._describe(node, mod)}: unexpected arguments ({exc})")
        raise_unsupported(self.problems, self.what)
        values = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        values = [v for v, k in zip(values, keep or [True] * len(values)) if k]
        return self.tracer.finish(_flat(values))

    def _apply(self, op, mod, args, kwargs, name):
        if op == "module_linear":
            weight = exact_tensor(mod.weight, f"{name}.weight")
            bias = None if mod.bias is None else exact_tensor(mod.bias, f"{name}.bias")
            return self.tracer.linear(args[0], weight, bias)
        if op == "module_flatten":
            return self.tracer.flatten(args[0], mod.start_dim, mod.end_dim)
        return HANDLERS[op](self.tracer, args, kwargs)


def _flat(value) -> list:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flat(item)]
    return [value]


def _poisoned(value) -> bool:
    if isinstance(value, (list, tuple, dict)):
        return any(map(_poisoned, value.values() if isinstance(value, dict) else value))
    return value is _POISON
