"""The torch operations the importers understand, as tracer steps; no torch import needed.

``HANDLERS`` maps an operation (``"linear"``, ``"relu"``, ``"cat"``, ...) to a function
``(tracer, args, kwargs) -> value`` over :class:`networks.tensors_to_circuit.Tracer`. The same
operation is reached from a torch function (``F.linear``), a tensor method (``x.view``) or an
aten overload (``aten.linear.default``, as in ``torch.export`` graphs and ``.pt2`` files):
``ATEN`` and ``METHODS`` map those names to it.

>>> ATEN['linear.default'], ATEN['view.default'], METHODS['view']
('linear', 'reshape', 'reshape')
"""

from __future__ import annotations

from networks.exact_tensors import Unsupported
from symbolic.circuit import Activation


def arg(args, kwargs, i: int, name: str, default=None):
    """Argument ``i`` (positional) or ``name`` (keyword)."""
    return args[i] if len(args) > i else kwargs.get(name, default)


def _shape_args(args):
    return list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:]


def _refuse(reason: str):
    raise Unsupported(reason)


def _slice(a, k) -> slice:
    return slice(arg(a, k, 2, "start"), arg(a, k, 3, "end"), arg(a, k, 4, "step", 1))


def _dims(value):
    return list(value) if isinstance(value, (list, tuple)) else value


HANDLERS = {  # op -> (tracer, args, kwargs) -> value
    "linear": lambda t, a, k: t.linear(a[0], arg(a, k, 1, "weight"), arg(a, k, 2, "bias")),
    **{act.torch_function: (lambda t, a, k, act=act: t.activate(a[0], act))
       for act in Activation if act.torch_function},
    "identity": lambda t, a, k: a[0],
    "ignore": lambda t, a, k: None,
    "neg": lambda t, a, k: t.neg(a[0]),
    "add": lambda t, a, k: t.add(a[0], arg(a, k, 1, "other"), k.get("alpha", 1)),
    "sub": lambda t, a, k: t.sub(a[0], arg(a, k, 1, "other"), k.get("alpha", 1)),
    "rsub": lambda t, a, k: t.sub(arg(a, k, 1, "other"), a[0], k.get("alpha", 1)),
    "mul": lambda t, a, k: t.mul(a[0], arg(a, k, 1, "other")),
    "div": lambda t, a, k: t.div(a[0], arg(a, k, 1, "other"))
    if arg(a, k, 2, "rounding_mode") is None else _refuse("rounded division is not affine"),
    "cat": lambda t, a, k: t.concat(a[0], arg(a, k, 1, "dim", 0)),
    "stack": lambda t, a, k: t.concat(a[0], arg(a, k, 1, "dim", 0), stack=True),
    "getitem": lambda t, a, k: t.index(a[0], a[1]),
    "getattr": lambda t, a, k: t.size(a[0]) if a[1] == "shape" else t.transpose(a[0])
    if a[1] == "T" else _refuse(f"attribute .{a[1]}"),
    "slice": lambda t, a, k: t.take(a[0], _slice(a, k), arg(a, k, 1, "dim", 0)),
    "select": lambda t, a, k: t.take(a[0], arg(a, k, 2, "index"), arg(a, k, 1, "dim")),
    "reshape": lambda t, a, k: t.reshape(a[0], _shape_args(a) if len(a) > 1 else k["shape"]),
    "unsqueeze": lambda t, a, k: t.unsqueeze(a[0], arg(a, k, 1, "dim")),
    "squeeze": lambda t, a, k: t.squeeze(a[0], _dims(arg(a, k, 1, "dim")), strict=False),
    "flatten": lambda t, a, k: t.flatten(a[0], arg(a, k, 1, "start_dim", 0),
                                         arg(a, k, 2, "end_dim", -1)),
    "size": lambda t, a, k: t.size(a[0], arg(a, k, 1, "dim")),
    "t": lambda t, a, k: t.transpose(a[0]),
    "permute": lambda t, a, k: t.transpose(a[0], _shape_args(a) if len(a) > 1 else k["dims"]),
    "transpose": lambda t, a, k: t.transpose(a[0], swap=(arg(a, k, 1, "dim0"),
                                                         arg(a, k, 2, "dim1"))),
    "matmul": lambda t, a, k: t.matmul(a[0], a[1]),
    "addmm": lambda t, a, k: t.add(
        t.mul(t.matmul(a[1], a[2]), k.get("alpha", 1)), t.mul(a[0], k.get("beta", 1))
    ),
}

METHODS = {m: m for m in "relu sigmoid neg add sub mul div reshape unsqueeze squeeze flatten "
           "size t permute transpose matmul".split()}
METHODS |= {"view": "reshape"} | dict.fromkeys("contiguous clone detach float double".split(),
                                               "identity")

_ATEN = {  # op -> aten "packet.overload" names
    "linear": ["linear.default"], "sigmoid": ["sigmoid.default"],
    "relu": ["relu.default", "relu_.default"], "neg": ["neg.default"],
    "rsub": ["rsub.Scalar", "rsub.Tensor"], "add": ["add.Tensor", "add.Scalar"],
    "sub": ["sub.Tensor", "sub.Scalar"], "mul": ["mul.Tensor", "mul.Scalar"],
    "div": ["div.Tensor", "div.Scalar", "div.Tensor_mode"],
    "cat": ["cat.default", "concat.default"], "stack": ["stack.default"],
    "slice": ["slice.Tensor"], "select": ["select.int"],
    "reshape": ["view.default", "reshape.default", "_unsafe_view.default"],
    "unsqueeze": ["unsqueeze.default"], "size": ["sym_size.int"],
    "squeeze": ["squeeze.dim", "squeeze.dims", "squeeze.default"],
    "flatten": ["flatten.using_ints"], "t": ["t.default"], "permute": ["permute.default"],
    "transpose": ["transpose.int"], "addmm": ["addmm.default"],
    "matmul": ["mm.default", "matmul.default"],
    "identity": ["clone.default", "alias.default", "detach.default", "contiguous.default"],
    "ignore": ["_assert_tensor_metadata.default", "_assert_scalar.default"],
}
ATEN = {name: op for op, names in _ATEN.items() for name in names}
