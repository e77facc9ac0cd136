"""Adversarial variable and neuron names: plain, internal solver patterns, long and odd identifiers."""

from __future__ import annotations

import random
import re
import string

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TEXT_MAX = 64  # the text parser's longest name

# Words a user cannot (or soon will not be able to) use as a variable: parser keywords, function
# names and sympy's named constants. Left out on purpose, so that every claim stays valid.
RESERVED = frozenset(
    "relu ReLU R sigmoid S abs Abs min Min max Max heaviside Heaviside H floor ceil ceiling mod Mod "
    "if piecewise and or not in oo inf Z N True true False false E I pi nan zoo S O Q nil None "
    "lambda def class".split())

PLAIN = ("x", "x1", "x2", "x3", "x4", "a", "b", "c", "t", "u", "v", "w", "p", "q", "z", "s1", "s2")

# The names the tool invents today: z3 constants n_<neuron>, from_layers neurons h<k>_<i>,
# expr_to_circuit neurons h<k> and outputs y / y_out, difference circuits target_<...>/difference,
# the optimiser's __objective. An input with such a name must never alias a tool name.
INTERNAL = ("n_h1", "n_h2", "n_h3", "n_h4", "n_y", "n_y_out", "n_h1_1", "n_h1_2", "n_h2_1", "n_h2_2",
            "n_h3_1", "h1", "h2", "h3", "h1_1", "h1_2", "h2_1", "y", "y1", "y_out", "difference",
            "n_difference", "target_h1", "n_target_h1", "target_y", "n_x", "n_x1", "n_n_h1", "objective",
            "n_objective", "n_", "n_1")
DIRECT_ONLY = ("__objective", "__x", "__n_h1", "__difference")  # the text parser refuses a leading '__'

ODD = ("_", "_x", "x_", "a__b", "X9_9", "x1_0", "x10", "x01", "l", "O0", "n", "h", "inf0", "oo_", "relu1",
       "min_", "Rx", "True_", "E1", "pi2", "Sx", "I_", "_1", "__init__x", "x_1_", "A", "yy", "h1x")


def long_name(rng: random.Random, route: str) -> str:
    """A long identifier made of letters, digits and underscores (at most 64 for text)."""
    limit = TEXT_MAX if route != "api" else 200
    length = rng.choice([limit, limit - 1, rng.randint(16, limit)])
    first = rng.choice(string.ascii_letters + "_")
    body = "".join(rng.choice(string.ascii_letters + string.digits + "_") for _ in range(length - 1))
    name = first + body
    if route != "api" and name.startswith("__"):
        name = "x" + name[1:]
    return name


def allowed(name: str, route: str) -> bool:
    """Whether ``name`` is an identifier the Circuit (and, for text routes, the parser) accepts."""
    if not IDENTIFIER.match(name) or name in RESERVED:
        return False
    return route in ("api", "worst") or (not name.startswith("__") and len(name) <= TEXT_MAX)


def draw(rng: random.Random, count: int, route: str, style: str, avoid: set[str] = frozenset()) -> tuple[str, ...]:
    """``count`` distinct input names of ``style`` (plain, internal or odd) valid for ``route``.

    >>> draw(random.Random(1), 3, 'text', 'internal')
    ('x2', 'n_1', 'n_')
    """
    pools = {"plain": PLAIN, "internal": INTERNAL + (DIRECT_ONLY if route == "api" else ()), "odd": ODD}
    out: list[str] = []
    while len(out) < count:
        if style == "odd" and rng.random() < 0.4:
            name = long_name(rng, route)
        elif style != "plain" and rng.random() < 0.15:
            name = rng.choice(PLAIN)
        else:
            name = rng.choice(pools[style])
        if allowed(name, route) and name not in out and name not in avoid:
            out.append(name)
    return tuple(out)


def neuron_names(rng: random.Random, count: int, inputs: tuple[str, ...], style: str) -> list[str]:
    """Names for Builder neurons: for internal names, the z3 constant ``n_<neuron>`` of some neuron
    is made to equal an input's name when possible (an input ``n_h1`` gets a neuron ``h1``)."""
    taken = set(inputs)
    wanted = [n[2:] for n in inputs if n.startswith("n_") and allowed(n[2:], "api")] if style == "internal" else []
    rng.shuffle(wanted)
    out: list[str] = []
    for k in range(count):
        if wanted and (rng.random() < 0.7 or k == count - 1):
            name = wanted.pop()
        elif style == "odd" and rng.random() < 0.5:
            name = rng.choice(ODD + (long_name(rng, "api"),))
        elif style == "internal" and rng.random() < 0.5:
            name = rng.choice(INTERNAL)
        else:
            name = f"h{k + 1}"
        while name in taken or not allowed(name, "api"):
            name = f"{name}_{rng.randint(0, 9)}" if len(name) < 190 else f"h{rng.randint(100, 10 ** 6)}"
        taken.add(name)
        out.append(name)
    return out
