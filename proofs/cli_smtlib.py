"""``--smtlib FILE`` on ``claim``, ``check`` and ``vnnlib``: write the SMT-LIB 2 query behind the claim.

The file holds the claim's negation query (:mod:`verify.claim_to_smtlib`): ``unsat`` means the claim
holds, ``sat`` gives a candidate counterexample. It is written whatever method decided the claim:
after a proof by z3 it is the very query z3 answered (the text of its ``smt`` certificate); otherwise
it is built afresh, as z3 would get it, within what is left of ``--timeout`` (for the claim the
verdict is about: ``Result.claim``). A property with several input boxes gets one file per box, named FILE with ``.box<k>`` before its extension (``q.smt2`` ->
``q.box0.smt2``, ``q.box1.smt2``, ...; it holds when every one is unsat). A claim z3 cannot encode
(a sigmoid in the target, a product of inputs) writes no file and says why. The verdict and the exit
code never depend on the export. Re-deciding the file with cvc5 or z3: docs/recheck.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from proofs import cli_args
from symbolic import errors


def add_option(p) -> None:
    """Register ``--smtlib FILE`` on a subcommand's parser."""
    p.add_argument("--smtlib", type=cli_args.output_file, metavar="FILE",
                   help="write the claim's SMT-LIB 2 query (unsat = the claim holds), whatever method decided it; "
                        "several input boxes: FILE with .box0, .box1, ... before its extension")


def paths(path: Path, count: int) -> list[Path]:
    """The file of each of ``count`` queries: ``path`` itself for one, else ``.box<k>`` before the suffix.

    >>> [str(p) for p in paths(Path("out/q.smt2"), 2)], paths(Path("q"), 1)
    (['out/q.box0.smt2', 'out/q.box1.smt2'], [PosixPath('q')])
    """
    path = Path(path)
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}.box{k}{path.suffix}") for k in range(count)]


def save(path: Path | None, results: Sequence, deadline) -> dict | None:
    """Write the query of each result's claim (see the module docstring) within ``deadline`` (a
    :class:`symbolic.budget.Deadline`). Returns ``{"files", "bytes", "logics"}`` or ``{"files": [],
    "reason"}``; None without ``path``."""
    if path is None:
        return None
    from symbolic.atomic import write_text_atomic

    try:
        texts = [_text(r, deadline) for r in results]
    except errors.TimeoutExpired as exc:
        return {"files": [], "reason": f"the budget ran out while building the query ({exc}; raise --timeout)"}
    except errors.MathCircuitsError as exc:
        return {"files": [], "reason": f"z3 cannot encode this claim: {exc}"}
    files = paths(path, len(texts))
    try:
        for file, text in zip(files, texts):
            write_text_atomic(file, text)
    except OSError as exc:
        return {"files": [], "reason": f"cannot write {file} ({exc.strerror or exc})"}
    return {"files": [str(f) for f in files], "bytes": [len(t.encode()) for t in texts],
            "logics": [_logic(t) for t in texts]}


def _text(result, deadline) -> str:
    from verify import claim_to_smtlib

    if isinstance(result.certificate, claim_to_smtlib.Certificate):  # a proof by z3: its own query
        return result.certificate["smtlib"]
    return claim_to_smtlib.claim_to_smtlib(result.claim, deadline)


def _logic(text: str) -> str:
    start = text.index("(set-logic ") + len("(set-logic ")
    return text[start:text.index(")", start)]


def describe(facts: dict | None) -> str | None:
    """One line for people about :func:`save`'s outcome."""
    if facts is None:
        return None
    if not facts["files"]:
        return f"not written: {facts['reason']}"
    shown = ", ".join(f"{f} ({n} bytes, {logic})" for f, n, logic in zip(facts["files"], facts["bytes"], facts["logics"]))
    return f"{shown}; unsat = the claim holds (re-check: docs/recheck.md)"


def printed(args, results: Sequence, deadline) -> dict:
    """``{"smtlib": facts or the line to print}`` after writing the file, or ``{}`` without ``--smtlib``."""
    facts = save(getattr(args, "smtlib", None), results, deadline)
    if facts is None:
        return {}
    return {"smtlib": facts if args.json else describe(facts)}
