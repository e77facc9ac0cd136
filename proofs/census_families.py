"""Group census records into families (by rounded circuit, or by extracted circuit) and show them.

Recipes at minimal width (``group_by == "rounding"``) are grouped as before: seeds whose rounded
canonical circuits are identical compute the same function; a rounding that does not satisfy
the claim is grouped by its coarse structure (weights rounded to integers), which says how the
run is stuck. Wide and deep recipes (``group_by == "extract"``) are grouped by the family key of
the circuit :func:`proofs.extract.extract` found inside each trained network (its canonical form
up to the input permutations that leave the target unchanged); runs where nothing was found are
grouped by why. Each family gets its share of the seeds, the median loss, the median exact
distance ``delta = max |N - C|`` between the trained network and its circuit, and examples.

>>> records = [{"recipe": "min2_w8", "seed": s, "verdict": "refuted", "rounded_verdict": "refuted",
...             "canonical": "c", "final_loss": 1e-6, "extraction": {"found": True, "family_key": "k",
...             "delta": d, "circuit": "y = ...", "relus": 1, "relu_form": "x2 - R(x2 - x1)"}}
...            for s, d in [(0, "1/100"), (1, "1/50"), (2, "1/10")]]
>>> [(f.key, f.seeds, f.median_delta) for f in families(records)]
[('k', (0, 1, 2), '1/50')]
"""

from __future__ import annotations

import dataclasses
import io
from collections import defaultdict
from collections.abc import Sequence
from fractions import Fraction


@dataclasses.dataclass(frozen=True)
class Family:
    """Seeds grouped together. ``verdict`` is the group's: for a rounding family the rounding's
    verdict, for an extraction family ``proved`` when a circuit ``C`` with ``C = f`` was found
    (``circuit`` then holds it and ``median_delta`` the median exact ``max |N - C|``)."""

    closed_form: str
    relu_form: str
    features: tuple[str, ...]
    seeds: tuple[int, ...]
    verdict: str
    median_loss: float | None = None
    key: str = ""
    circuit: str | None = None
    relus: int | None = None
    median_delta: str | None = None  # exact, as text
    grouped_by: str = "rounding"

    @property
    def proved(self) -> bool:
        return self.verdict == "proved"

    def share(self, total: int) -> float:
        return len(self.seeds) / total if total else 0.0


def _median(values: list):
    values = sorted(values)
    return values[(len(values) - 1) // 2] if values else None  # the lower median: one of the values


def _grouping(records: Sequence[dict]) -> str:
    return "extract" if any("extraction" in r for r in records) else "rounding"


def _extraction_key(r: dict) -> tuple[str, str]:
    """(group key, verdict) of a record grouped by its extraction."""
    ex = r.get("extraction")
    if r.get("verdict") == "error":
        return "error: " + r.get("error", "?"), "error"
    if ex is None:
        return "not extracted", "unknown"
    if ex.get("found"):
        return ex["family_key"], "proved"
    why = ex.get("error") or ex.get("reason") or "no circuit found"
    return "none: " + why.split(":")[0].split("(")[0].strip(), ex.get("verdict", "unknown")


def families(records: Sequence[dict]) -> list[Family]:
    """The families of ``records`` (see the module docstring), largest first, proved ones first."""
    by_extract = _grouping(records) == "extract"
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if by_extract:
            key, verdict = _extraction_key(r)
        elif r.get("verdict") == "error":
            key, verdict = "error: " + r.get("error", "?"), "error"
        else:
            key, verdict = r["canonical"], r["rounded_verdict"]
        groups[(verdict, key)].append(r)
    out = []
    for (verdict, key), members in groups.items():
        first = members[0]
        losses = [m["final_loss"] for m in members if m.get("final_loss") is not None]
        if by_extract:
            ex = first.get("extraction") or {}
            deltas = [Fraction(m["extraction"]["delta"]) for m in members
                      if (m.get("extraction") or {}).get("delta") is not None]
            delta = _median(deltas)
            form = ex.get("relu_form") or (key if verdict != "proved" else "")
            out.append(Family(form or "", "", (), tuple(sorted(m["seed"] for m in members)), verdict,
                              _median(losses), key, ex.get("circuit"), ex.get("relus"),
                              None if delta is None else str(delta), "extract"))
        else:
            out.append(Family(first.get("closed_form", first.get("error", "")), first.get("relu_form", ""),
                              tuple(first.get("features", ())), tuple(sorted(m["seed"] for m in members)),
                              verdict, _median(losses), key))
    return sorted(out, key=lambda f: (not f.proved, -len(f.seeds), f.seeds))


def summary(recipe_name: str, records: Sequence[dict]) -> dict:
    """The census result as a JSON-ready dict."""
    total = len(records)
    fams = families(records)
    deltas = [Fraction(r["max_error"]) for r in records if r.get("max_error") is not None]
    out = {
        "recipe": recipe_name,
        "seeds": total,
        "grouped_by": _grouping(records),
        "trained_proved": sum(r.get("verdict") == "proved" for r in records),
        "rounding_proved": sum(r.get("rounded_verdict") == "proved" for r in records),
        "median_max_error": None if not deltas else str(_median(deltas)),
        "families": [],
    }
    if out["grouped_by"] == "extract":
        out["circuit_found"] = sum(bool((r.get("extraction") or {}).get("found")) for r in records)
    for f in fams:
        row = {"closed_form": f.closed_form, "relu_form": f.relu_form, "features": list(f.features),
               "count": len(f.seeds), "share": round(f.share(total), 4), "verdict": f.verdict,
               "proved": f.proved, "median_loss": f.median_loss, "example_seeds": list(f.seeds[:5])}
        if f.grouped_by == "extract":
            row.update({"key": f.key, "circuit": f.circuit, "relus": f.relus, "median_delta": f.median_delta,
                        "median_delta_decimal": None if f.median_delta is None
                        else f"{float(Fraction(f.median_delta)):.4g}"})
        out["families"].append(row)
    return out


def format_table(data: dict, width: int = 120) -> str:
    """The families as a text table (drawn by ``rich``); verdicts are named as they are
    ("refuted", "unknown"), never "failed"."""
    from rich.console import Console
    from rich.table import Table

    total = max(1, data["seeds"])
    head = (f"census of {data['recipe']}: {data['seeds']} seeds; the trained network satisfies the claim in "
            f"{data['trained_proved']}, its rounding in {data['rounding_proved']} "
            f"({100 * data['rounding_proved'] / total:.0f}%)")
    if data.get("grouped_by") == "extract":
        head += (f"; a circuit C = f was extracted from {data['circuit_found']} "
                 f"({100 * data['circuit_found'] / total:.0f}%)")
    if data.get("median_max_error") is not None:
        head += f"; median exact worst-case error {float(Fraction(data['median_max_error'])):.3g}"
    extract = data.get("grouped_by") == "extract"
    table = Table(title=None, box=None, show_edge=False, pad_edge=False)
    for name, justify in [("count", "right"), ("share", "right"), ("verdict", "left"), ("loss", "right")] + (
            [("ReLUs", "right"), ("median delta", "right")] if extract else []) + [
            ("circuit C (ReLU form)" if extract else "closed form (ReLU form)", "left"), ("example seeds", "left")]:
        table.add_column(name, justify=justify, overflow="fold")
    for f in data["families"]:
        loss = "" if f.get("median_loss") is None else f"{f['median_loss']:.1e}"
        if extract:
            form = f["closed_form"] if f["verdict"] == "proved" else (f["closed_form"] or "-")
            extra = ["" if f.get("relus") is None else str(f["relus"]), f.get("median_delta_decimal") or ""]
        else:
            form = f"{f['closed_form']}  ({f['relu_form']})" if f["relu_form"] else f["closed_form"]
            if f["features"]:
                form += "\nfeatures: " + "; ".join(f["features"])
            extra = []
        table.add_row(str(f["count"]), f"{100 * f['share']:.1f}%", f["verdict"], loss, *extra, form,
                      ", ".join(map(str, f["example_seeds"])))
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(table)
    return head + "\n\n" + console.file.getvalue().rstrip()
