"""The branch and bound search's options, statistics and outcome (verify.branch_and_bound)."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction


@dataclasses.dataclass(frozen=True)
class Settings:
    """Search options.

    ``split``: "input", "relu" or "auto" (inputs while the box has room and the network has at
    most ``relu_inputs`` inputs, ReLUs once a node has at most ``relu_when`` unstable ones, or
    ``relu_when_small`` in networks small enough for exact confirmation).
    ``lp_neurons``: networks up to this many neurons try the LP on every node that bounds do not
    close (larger ones only on ReLU-split nodes), on at most ``lp_ratio_small`` (``lp_ratio``) of the nodes.
    Measured on the 3-4-input bench models (load 4-5): the LP on every open node and ReLU splits
    from 8 unstable ReLUs down cost more than they save (median3_16x16x16 tol-true: unknown after
    60 s with 16,029 LPs taking 48 s; proved in 2.1 s and 4,691 nodes with input splits and no LP;
    min3_16: 11 s -> 0.17 s), hence ``lp_neurons = 0`` and ``relu_when_small = relu_when``. Strong
    branching on 10% rather than 50% of the nodes: ACAS Xu 4_2 prop 3 7.6 s -> 1.4 s, 4_6 prop 1
    10.4 -> 5.5 s, 3_3 prop 2 certifies 88% of its box in 60 s instead of 116 s; range4_32x32x32
    tol-true 38 -> 36 s.
    ``branching``: "strong" (both halves of the ``strong_dims`` best smear splits are bounded, on at
    most ``strong_ratio`` of the nodes) or "smear". Every choice depends on counts, never on the
    clock, so a search is reproducible. An input split never leaves a box more than ``max_aspect``
    times longer (relative to the root box) in another dimension. ``exact_neurons``: networks up to this size may
    confirm leaves in exact rationals when floats cannot (a bound of exactly 0).
    """

    batch: int = 64
    split: str = "auto"
    relu_inputs: int = 12
    relu_when: int = 2
    relu_when_small: int = 2
    mu_steps: int = 10
    alpha_steps: int = 0
    branching: str = "strong"
    strong_dims: int = 5
    max_aspect: float = 256.0
    strong_ratio: float = 0.1
    lp_neurons: int = 0
    lp_ratio: float = 0.1
    lp_ratio_small: float = 0.5
    exact_neurons: int = 64
    max_nodes: int = 4_000_000

    def __post_init__(self) -> None:
        if self.split not in ("input", "relu", "auto"):
            raise ValueError(f"split must be input, relu or auto, got {self.split!r}")
        if self.batch < 1 or self.max_nodes < 1:
            raise ValueError("batch and max_nodes must be positive")


@dataclasses.dataclass(frozen=True)
class Stats:
    """Counts and seconds of one search."""

    nodes: int = 0
    leaves: int = 0
    max_depth: int = 0
    input_splits: int = 0
    relu_splits: int = 0
    lp_calls: int = 0
    bounds_s: float = 0.0
    mu_s: float = 0.0
    lp_s: float = 0.0
    branch_s: float = 0.0
    exact_s: float = 0.0
    cex_s: float = 0.0
    total_s: float = 0.0
    certified_fraction: float = 0.0

    def to_json(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True, eq=False)
class Outcome:
    """``verdict`` is "proved", "refuted" or "unknown"; ``point`` an exact counterexample."""

    verdict: str
    point: dict[str, Fraction] | None
    reached: int | None
    certificate: dict | None
    stats: Stats
    reason: str = ""


def percent(fraction: float) -> str:
    """A certified fraction for people, rounded down (an open sliver never reads as 100%).

    >>> percent(0.999999), percent(1.0), percent(0.123456)
    ('99.99%', '100%', '12.34%')
    """
    return f"{math.floor(fraction * 10000) / 100:g}%"
