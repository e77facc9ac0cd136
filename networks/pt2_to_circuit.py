"""Read a ``.pt2`` file (``torch.export.save``) into an exact circuit without torch or pickle.

A ``.pt2`` file is a zip archive: the program is JSON (``<root>/models/<name>.json``, torch's
export schema) and the weights and constants are raw tensor bytes described by JSON configs
(``<root>/data/weights/<name>_weights_config.json``). ``torch.export.load`` unpickles members
with ``weights_only=False`` (tensor subclasses, custom objects, the sample inputs) and turns
symbolic shape expressions into sympy objects from their text: both can run code from the file.
This reader parses only the JSON and the raw bytes. An archive whose program needs a pickled
member (a weight or constant marked ``use_pickle``, a custom object, the older layouts that keep
the state dict as a pickle) is refused with one line; the sample inputs (always a pickle) are
never opened. Graph nodes are aten operations, interpreted by :mod:`networks.torch_ops`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence

import numpy as np

from networks.model_limits import ModelLimits, check_circuit, read_model_file, read_zip, too_big
from networks.exact_tensors import Unsupported, exact_array, input_names_for, raise_unsupported
from networks.tensors_to_circuit import Tracer
from networks.torch_ops import ATEN, HANDLERS
from symbolic.circuit import Circuit
from symbolic.errors import MathCircuitsError, ModelFormatError

_DTYPES = {1: "u1", 2: "i1", 3: "i2", 4: "i4", 5: "i8", 6: "f2", 7: "f4", 8: "f8", 12: "?",
           13: "bfloat16"}
_POISON = object()  # the value of a node downstream of an unsupported one
_PLAIN = ("as_int", "as_float", "as_bool", "as_string", "as_ints", "as_floats", "as_bools",
          "as_strings", "as_scalar_type", "as_memory_format", "as_layout", "as_device")


class _Malformed(Exception):
    """The archive's JSON does not have the structure of a torch.export program."""


def load_pt2(
    path: str | os.PathLike, input_names: Sequence[str] | None = None,
    limits: ModelLimits | None = None,
) -> Circuit:
    """The circuit of the ``.pt2`` file ``path`` (inputs named as for ``from_exported_program``).

    The first dimension of each user input is its batch axis.
    """
    limits = limits or ModelLimits()
    where = str(path)
    data = read_model_file(path, limits)
    if not data.startswith(b"PK\x03\x04"):
        raise ModelFormatError(f"cannot read {where}: not a torch.export program (not a zip "
                               "archive; truncated or corrupt?)")
    members = read_zip(data, where, limits, lambda name: "/sample_inputs/" not in name)
    try:
        return _Program(members, where, limits).circuit(input_names)
    except MathCircuitsError:
        raise
    except (_Malformed, KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        detail = str(exc) if isinstance(exc, _Malformed) else f"malformed JSON: {exc!r}"[:160]
        raise ModelFormatError(f"cannot read {where}: not a torch.export program ({detail})") \
            from None
    except RecursionError:
        raise ModelFormatError(f"cannot read {where}: its JSON is nested too deeply") from None
    except Unsupported as exc:
        raise_unsupported([str(exc)], where)
        raise  # pragma: no cover - raise_unsupported always raises here


def _one(union: dict) -> tuple[str, object]:
    """The (kind, value) of a serialized union such as ``{"as_tensor": {"name": "x"}}``."""
    if not isinstance(union, dict) or len(union) != 1:
        raise _Malformed(f"expected a one-key object, found {str(union)[:80]}")
    return next(iter(union.items()))


def _int(value: dict) -> int | None:
    """A serialized SymInt: an int, or None for a symbolic size (its text is never evaluated)."""
    kind, body = _one(value)
    if kind == "as_int" and isinstance(body, int):
        return body
    if kind == "as_expr":
        return None
    raise _Malformed(f"bad size {str(value)[:80]}")


class _Program:
    def __init__(self, members: dict[str, bytes], where: str, limits: ModelLimits):
        self.members, self.where, self.limits = members, where, limits
        roots = {name.split("/", 1)[0] for name in members}
        pickled = [n for n in members if n.endswith(("serialized_state_dict.pt",
                                                     "serialized_constants.pt"))]
        if pickled or len(roots) != 1:
            self.refuse(f"an older torch.export layout that stores the weights as a pickle "
                        f"({pickled[0] if pickled else 'no archive root'})")
        self.root = roots.pop()
        if members.get(f"{self.root}/archive_format", b"").strip() != b"pt2":
            raise _Malformed("no archive_format 'pt2' member")
        models = [n for n in members if n.startswith(f"{self.root}/models/")
                  and n.endswith(".json")]
        if len(models) != 1:
            raise _Malformed(f"{len(models)} programs in models/, expected one")
        self.name = models[0][len(f"{self.root}/models/") : -len(".json")]
        for kind in ("weights", "constants"):
            if f"{self.root}/data/{kind}/{self.name}.pt" in members:
                self.refuse(f"an older torch.export layout that stores the {kind} as a pickle")
        order = members.get(f"{self.root}/byteorder", b"little").strip()
        self.endian = ">" if order == b"big" else "<"
        self.program = self.json(models[0])
        self.tracer = Tracer(limits)

    def refuse(self, why: str):
        raise ModelFormatError(f"refusing to load {self.where}: {why}; it is never unpickled - "
                               "export the model to ONNX, or save it with a torch.export.save "
                               "that stores plain tensors")

    def json(self, member: str):
        if member not in self.members:
            raise _Malformed(f"no member {member}")
        if self.members[member][:1] == b"\x80":  # a pickle's protocol opcode
            self.refuse(f"{member} is a pickle, not JSON")
        try:
            return json.loads(self.members[member])
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Malformed(f"{member} is not JSON: {exc}") from None

    def payloads(self, kind: str) -> dict:
        config = f"{self.root}/data/{kind}/{self.name}_{kind}_config.json"
        entries = self.json(config).get("config", {}) if config in self.members else {}
        if not isinstance(entries, dict):
            raise _Malformed(f"{config} has no config object")
        return entries

    def tensor(self, fqn: str, kind: str, entries: dict):
        """The exact array of weight/constant ``fqn``, from raw bytes only."""
        meta, label = entries.get(fqn), f"{kind[:-1]} {fqn}"
        if not isinstance(meta, dict):
            raise _Malformed(f"{label} is not in the {kind} config")
        path = str(meta.get("path_name", ""))
        if meta.get("use_pickle") or not (path.startswith(("weight_", "tensor_"))):
            self.refuse(f"{label} is stored as a pickled object ({path})")
        raw = self.members.get(f"{self.root}/data/{kind}/{path}")
        if raw is None:
            raise _Malformed(f"no member data/{kind}/{path} for {fqn}")
        info = meta.get("tensor_meta") or {}
        what = f"{self.where}: {label}"
        code = info.get("dtype")
        if code not in _DTYPES:
            raise ModelFormatError(f"{what} has torch dtype code {code!r}, not a real number type")
        sizes = [_int(s) for s in info.get("sizes", [])]
        strides = [_int(s) for s in info.get("strides", [])]
        offset = _int(info.get("storage_offset", {"as_int": 0}))
        if None in sizes or None in strides or offset is None or len(sizes) != len(strides):
            raise _Malformed(f"{fqn} has a symbolic or inconsistent layout")
        self.tracer.charge(math.prod(sizes), what)
        bf16 = _DTYPES[code] == "bfloat16"
        dtype = np.dtype(self.endian + ("u2" if bf16 else _DTYPES[code]))
        if len(raw) % dtype.itemsize:
            raise ModelFormatError(f"{what}: {len(raw)} bytes is not a whole number of elements")
        flat = np.frombuffer(raw, dtype)
        if math.prod(sizes) == 0:
            return exact_array(np.zeros(sizes), what)
        end = offset + sum((n - 1) * s for n, s in zip(sizes, strides))
        if offset < 0 or min(strides, default=0) < 0 or end >= len(flat):
            raise ModelFormatError(f"{what}: shape {sizes} and strides {strides} run past its "
                                   f"{len(flat)} stored elements")
        array = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=sizes, strides=[s * dtype.itemsize for s in strides],
            writeable=False,
        )
        if bf16:
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return exact_array(array, what)

    def circuit(self, input_names: Sequence[str] | None) -> Circuit:
        from networks.torch_to_circuit import user_input_shape

        try:
            module = self.program["graph_module"]
            graph, signature = module["graph"], module["signature"]
            nodes, values = graph["nodes"], graph.get("tensor_values", {})
            specs_in, specs_out = signature["input_specs"], signature["output_specs"]
            outputs = graph["outputs"]
        except (KeyError, TypeError) as exc:
            raise _Malformed(f"malformed model JSON: {exc}") from None
        if not isinstance(nodes, list) or len(nodes) > self.limits.max_nodes:
            if isinstance(nodes, list):
                raise too_big(f"{self.where}: graph nodes:", len(nodes), self.limits.max_nodes,
                              "max_nodes")
            raise _Malformed("graph nodes are not a list")
        weights, constants = self.payloads("weights"), self.payloads("constants")
        env: dict[str, object] = {}
        problems: list[str] = []
        users = []
        for spec in specs_in:
            kind, body = _one(spec)
            try:
                arg = body["arg"]
                if kind == "user_input":
                    name = _one(arg)[1]["name"]
                    sizes = values[name]["sizes"]
                    shape = user_input_shape(name, [_int(s) for s in sizes])
                    users.append((name, shape))
                elif kind in ("parameter", "buffer"):
                    fqn = body[f"{kind}_name"]
                    inside = weights if fqn in weights else constants
                    env[arg["name"]] = self.tensor(fqn, "weights" if inside is weights
                                                   else "constants", inside)
                elif kind == "tensor_constant":
                    env[arg["name"]] = self.tensor(body["tensor_constant_name"], "constants",
                                                   constants)
                elif kind == "constant_input":
                    env[body["name"]] = self.value(body["value"], env)
                else:
                    name = arg.get("name", kind) if isinstance(arg, dict) else kind
                    problems.append(f"{name} ({kind} input)")
                    env[name] = _POISON
            except (KeyError, TypeError, AttributeError) as exc:
                raise _Malformed(f"input spec {kind} lacks {exc}") from None
        widths = [math.prod(shape[1:]) for _, shape in users]
        groups = input_names_for(widths, [u for u, _ in users], input_names, self.limits)
        for (name, shape), group in zip(users, groups):
            env[name] = self.tracer.add_inputs(group, shape)
        for node in nodes:
            self.run(node, env, problems)
        raise_unsupported(problems, self.where)
        kept = [self.value(arg, env) for arg, spec in zip(outputs, specs_out)
                if _one(spec)[0] == "user_output"]
        try:
            circuit = self.tracer.finish(_flat(kept))
        except ModelFormatError as exc:
            raise type(exc)(f"{self.where}: {exc}") from None
        check_circuit(circuit, self.where, self.limits)
        return circuit

    def run(self, node: dict, env: dict, problems: list) -> None:
        try:
            target, name = str(node["target"]), str(node.get("name", "?"))
            inputs, outs = node["inputs"], node["outputs"]
        except (KeyError, TypeError) as exc:
            raise _Malformed(f"a graph node lacks {exc}") from None
        label = f"{name} ({target})"
        aten = target.removeprefix("torch.ops.aten.") if target.startswith("torch.ops.") else ""
        op = ATEN.get(aten) or ("getitem" if target in ("_operator.getitem",
                                                         "operator.getitem") else None)
        result = _POISON
        if op is None:
            problems.append(label)
        else:
            try:
                args = [self.value(i["arg"], env) for i in inputs if i.get("kind", 1) != 2]
                kwargs = {i["name"]: self.value(i["arg"], env) for i in inputs
                          if i.get("kind", 1) == 2}
            except (KeyError, TypeError, AttributeError) as exc:
                raise _Malformed(f"node {label} has a malformed argument ({exc})") from None
            except Unsupported as exc:
                problems.append(f"{label}: {exc}")
                args = kwargs = _POISON
            if not _poisoned(args) and not _poisoned(kwargs):
                try:
                    result = HANDLERS[op](self.tracer, args, kwargs)
                except Unsupported as exc:
                    problems.append(f"{label}: {exc}")
                except ModelFormatError as exc:
                    raise type(exc)(f"{self.where}: {label}: {exc}") from None
                except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
                    problems.append(f"{label}: unexpected arguments ({exc})")
        for k, out in enumerate(outs):
            kind, body = _one(out)
            if kind == "as_tensors":
                for j, item in enumerate(body):
                    env[item["name"]] = result if result is _POISON else result[j]
            elif kind in ("as_tensor", "as_sym_int", "as_sym_float", "as_sym_bool"):
                key = body.get("name") or body.get("as_name")
                env[key] = result if len(outs) == 1 or result is _POISON else result[k]

    def value(self, arg: dict, env: dict):
        """A serialized argument: tensors and symbolic sizes from ``env``, plain values as is."""
        kind, body = _one(arg)
        if kind == "as_none":
            return None
        if kind == "as_tensor":
            return env[body["name"]]
        if kind == "as_tensors":
            return [env[t["name"]] for t in body]
        if kind == "as_optional_tensors":
            return [None if "as_none" in t else env[t["as_tensor"]["name"]] for t in body]
        if kind in ("as_sym_int", "as_sym_float", "as_sym_bool"):
            return self.symbol(body, env)
        if kind in ("as_sym_ints", "as_sym_floats", "as_sym_bools"):
            return [self.symbol(b, env) for b in body]
        if kind in _PLAIN:
            return body
        raise Unsupported(f"an argument of kind {kind}")

    @staticmethod
    def symbol(body: dict, env: dict):
        kind, value = _one(body)
        if kind == "as_name":
            return env[value]
        return value


def _flat(value) -> list:
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flat(item)]
    return [value]


def _poisoned(value) -> bool:
    if isinstance(value, (list, tuple, dict)):
        return any(map(_poisoned, value.values() if isinstance(value, dict) else value))
    return value is _POISON
