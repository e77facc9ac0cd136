"""What the first hidden layer of each trained deep net reads (a float description, not a proof).

For each record, every first-layer neuron's input weights are divided by their largest magnitude;
its support is the set of inputs with a normalised weight above 0.2. A net built as two min
circuits feeding a third (min(min(x1, x2), min(x3, x4)) or another pairing) has only supports
within one pair of a partition of the inputs into two pairs.

Usage: python bench/census/structure.py FILE.jsonl
"""

from __future__ import annotations

import collections
import json
import sys


def supports(network: dict, threshold: float = 0.2) -> list[frozenset]:
    first = [a for a in network["assignments"] if all(s in network["inputs"] for s in a["weights"])
             and a["activation"] == "relu"]
    out = []
    for a in first:
        w = {s: float(eval_fraction(v)) for s, v in a["weights"].items()}
        top = max(abs(v) for v in w.values()) or 1.0
        out.append(frozenset(s for s, v in w.items() if abs(v) / top > threshold))
    return out


def eval_fraction(text: str) -> float:
    num, _, den = str(text).partition("/")
    return int(num) / int(den or 1)


def paired(sets: list[frozenset], inputs: list[str]) -> str | None:
    """The pairing {a, b}, {c, d} every support lies within, if any."""
    a = inputs[0]
    for b in inputs[1:]:
        left = frozenset((a, b))
        right = frozenset(inputs) - left
        if all(s <= left or s <= right for s in sets):
            return f"{{{', '.join(sorted(left))}}} + {{{', '.join(sorted(right))}}}"
    return None


def main(path: str) -> None:
    sizes, pairings = collections.Counter(), collections.Counter()
    for record in map(json.loads, open(path)):
        if "network" not in record:
            continue
        sets = supports(record["network"])
        sizes.update(len(s) for s in sets)
        pairings[paired(sets, record["network"]["inputs"]) or "no pairing"] += 1
    print(f"{path}: first-layer neurons by number of inputs read: {dict(sorted(sizes.items()))}")
    print(f"  nets whose first layer splits the inputs into two pairs: {dict(pairings)}")


if __name__ == "__main__":
    main(sys.argv[1])
