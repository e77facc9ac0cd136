"""``mathcircuits prove`` and ``mathcircuits report``: the seed catalogue, its table and its report.

With ``--cross-check`` each verdict is confirmed a second way beside the next decisions
(:class:`proofs.cli_cross_check.Beside`); ``--certificate DIR`` and ``--smtlib DIR`` write one file
per theorem.
"""

from __future__ import annotations

import argparse
import io
import json
import time

from proofs import cli_cross_check
from symbolic import errors


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_prove(args: argparse.Namespace) -> int:
    from proofs import catalogue, report
    from verify.decide import Config

    theorems = catalogue.select(args.names)
    if args.list:
        for t in theorems:
            print(f"{t.name:38s} {t.source}")
        return 0
    rows, total = _run_theorems(theorems, Config(timeout_s=args.timeout), quiet=args.json,
                                cross_check=args.cross_check)
    bad = [t.name for t, r, _ in rows if r.verdict is not t.expected or cli_cross_check.disagree([r])]
    written = _prove_certificates(args.certificate, rows, args.timeout)
    exported = _prove_smtlib(args.smtlib, rows, args.timeout)
    if args.json:
        print(json.dumps(report.catalogue_json(rows, total), indent=2))
    else:
        _print_table(rows)
        counts = {v: sum(r.verdict.value == v for _, r, _ in rows) for v in ("proved", "refuted", "unknown")}
        summary = ", ".join(f"{n} {v}" for v, n in counts.items())
        status = "all as expected" if not bad else f"NOT as expected: {', '.join(bad)}"
        print(f"\n{len(rows)} theorems: {summary}; {status} ({total:.2f} s)")
        if args.cross_check:
            print(_confirmation_summary([r for _, r, _ in rows]))
        for line in (written, exported):
            if line is not None:
                print(line)
    if args.report:
        paths = report.write_reports(rows, total, args.report)
        if not args.json:
            print(f"report: {paths[0]}")
    return 0 if not bad else 1


#: A second route gets at least this long, whatever the theorem's decision left of its budget:
#: cvc5's complete nonlinear method needs about 6 s of CPU on parity_needs_3_neurons_for_8, which a
#: loaded machine stretched past the 10 s budget (one "not confirmed" at load 5).
CROSS_CHECK_FLOOR_S = 30.0


def _run_theorems(theorems, config, quiet: bool, cross_check: bool = False):
    """Run theorems with a progress bar; rows are ``(theorem, result, facts)``. With ``cross_check``
    each verdict is confirmed a second way within the theorem's own budget (at least
    :data:`CROSS_CHECK_FLOOR_S`)."""
    from proofs.progress import Progress

    progress = Progress(len(theorems), "theorems", enabled=not quiet)
    start = time.perf_counter()
    rows = []
    beside = cli_cross_check.Beside() if cross_check else None
    for t in theorems:
        began = time.perf_counter()
        result, facts = t.run_with_facts(config)
        if beside is not None:  # checked while the next theorems are decided
            beside.submit(result, max(config.timeout_s - (time.perf_counter() - began), CROSS_CHECK_FLOOR_S))
        rows.append((t, result, facts))
        progress.step(t.name)
    if beside is not None:
        rows = [(t, r, facts) for (t, _, facts), r in zip(rows, beside.results())]
    return rows, time.perf_counter() - start


def _confirmation_summary(results) -> str:
    """``--cross-check`` on prove: how many verdicts a second route confirmed, and why not the rest."""
    from collections import Counter

    agree = Counter(r.confirmation["agree"] for r in results)
    routes = Counter(r.confirmation["routes"][-1] for r in results if r.confirmation["agree"])
    text = (f"cross-check: {agree[True]} of {len(results)} verdicts confirmed by a second route ("
            + ", ".join(f"{n} by {route}" for route, n in routes.most_common()) + ")")
    if agree[False]:
        text += f"; {agree[False]} DISAGREE"
    if agree[None]:
        text += f"; {agree[None]} not confirmed"
    return text


def _prove_smtlib(folder, rows, timeout_s: float) -> str | None:
    """``prove --smtlib DIR``: each theorem's query as ``DIR/<name>.smt2``; one line to print."""
    if folder is None:
        return None
    from pathlib import Path

    from proofs import cli_smtlib
    from symbolic.budget import Deadline

    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.MathCircuitsError(f"--smtlib: cannot create {folder} ({exc.strerror or exc})") from None
    written, missing = 0, []
    for t, r, _ in rows:
        facts = cli_smtlib.save(Path(folder) / f"{t.name}.smt2", [r], Deadline(timeout_s))
        if facts["files"]:
            written += 1
        else:
            missing.append(f"{t.name} ({facts['reason']})")
    text = f"SMT-LIB queries: {written} of {len(rows)} written to {folder} (re-check: docs/recheck.md)"
    return text + ("; none for " + "; ".join(missing) if missing else "")


def _prove_certificates(folder, rows, timeout_s: float) -> str | None:
    """``prove --certificate DIR``: each theorem's certificate as ``DIR/<name>.json``; one line to print."""
    if folder is None:
        return None
    from pathlib import Path

    from proofs import cli_certificate

    written, missing = 0, []
    for t, r, _ in rows:
        facts = cli_certificate.save(Path(folder) / f"{t.name}.json", [r], time.monotonic() + timeout_s)
        if facts["file"] is None:
            missing.append(f"{t.name} ({facts['reason']})")
        else:
            written += 1
    text = f"certificates: {written} of {len(rows)} written to {folder} (check each: mathcircuits certify FILE)"
    return text + ("; none for " + "; ".join(missing) if missing else "")


def cmd_report(args: argparse.Namespace) -> int:
    from proofs import catalogue, report
    from verify.decide import Config

    theorems = catalogue.select(args.names)
    rows, total = _run_theorems(theorems, Config(timeout_s=args.timeout), quiet=False)
    paths = report.write_reports(rows, total, args.out, args.format)
    print(f"report: {paths[0]} ({len(paths)} files)")
    return 0


#: Colours of the verdicts on a terminal (plain text elsewhere).
_STYLE = {"proved": "green", "refuted": "red", "unknown": "yellow"}


def _print_table(rows, stream=None) -> None:
    """The catalogue as a table drawn by ``rich``: coloured on a terminal; to a file or a pipe
    plain text at its natural width (one line per theorem, no colour codes), as scripts read it."""
    import sys

    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    stream = stream or sys.stdout
    terminal = stream.isatty()
    rule = box.SIMPLE_HEAD if terminal else box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n")  # ASCII
    table = Table(box=rule, show_edge=False, pad_edge=False, header_style="bold" if terminal else "")
    for name, justify in (("name", "left"), ("statement", "left"), ("domain", "left"), ("verdict", "left"),
                          ("method", "left"), ("s", "right")):
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis")
    if any(r.confirmation is not None for _, r, _ in rows):
        table.add_column("confirmed by (--cross-check)", no_wrap=True)
    for t, r, _ in rows:
        verdict = Text(r.verdict.value, style=_STYLE[r.verdict.value] if terminal else "")
        if r.verdict is not t.expected:
            verdict.append(f" (expected {t.expected.value})", style="bold red" if terminal else "")
        cells = [Text(t.name), Text(_shorten(t.statement(), 46)), Text(_shorten(t.domain(), 24)), verdict,
                 Text(r.method), Text(f"{r.elapsed_s:.3f}")]  # Text: '[x < 10]' is no markup
        if len(table.columns) > 6:
            cells.append(Text(_confirmed(r).strip()))
        table.add_row(*cells)
    if terminal:
        Console(file=stream, highlight=False, soft_wrap=False, force_terminal=True).print(table)
        return
    plain = io.StringIO()
    Console(file=plain, highlight=False, soft_wrap=False, color_system=None, force_terminal=False,
            width=1000).print(table)
    stream.write("\n".join(line.rstrip() for line in plain.getvalue().splitlines()) + "\n")


def _confirmed(result) -> str:
    """The table's last column after ``--cross-check``: both routes, or why there is no second one."""
    check = result.confirmation
    if check is None:
        return ""
    if check["agree"] is True:
        return "  " + " + ".join(check["routes"])
    return "  ROUTES DISAGREE" if check["agree"] is False else "  not confirmed"
