"""The seeded slice of the soundness fuzzer that runs in ``make test``: no wrong verdict, no bug.

``make fuzz`` runs the full campaign (10,000 claims); this slice checks a few hundred claims of a
fixed seed in-process, each verdict also confirmed by the tool's second route (``--cross-check``).
A failure lists each problem with the command that reproduces it.
"""

from __future__ import annotations

from tests.fuzz import campaign

SEED = 20260601
CLAIMS = 240


def test_fuzz_slice_has_no_wrong_verdict_and_no_bug():
    records = campaign.run(SEED, CLAIMS, workers=1, timeout=5.0, hard=60.0, cross_check=True)
    summary = campaign.summarise(records)
    total = summary["categories"]["TOTAL"]
    # the slice must exercise the tool, not only its error paths
    assert total["proved"] >= CLAIMS // 4 and total["refuted"] >= CLAIMS // 5, total
    assert total["error"] <= CLAIMS // 5, summary["errors"]
    # the second route runs and confirms (a contradiction is one of the problems below)
    assert summary["cross_check"].get("agree", 0) >= CLAIMS // 3, summary["cross_check"]
    bad = campaign.problems(records)
    report = "\n".join(
        f"#{r['index']} {r['category']} ({r['route']}): "
        f"{r['wrong'] or r['oracle_problem'] or r['outcome'] + ': ' + r['error_class'] + ' ' + r['message']}"
        f"{' [cause: ' + r['cause'] + ']' if r['cause'] else ''}\n    {r['claim'][:300]}\n"
        f"    reproduce: python -m tests.fuzz --seed {SEED} --only {r['index']} --show"
        for r in bad)
    assert not bad, f"{len(bad)} problems in the fuzz slice:\n{report}"
