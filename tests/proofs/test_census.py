"""The census: records per seed, families, SIGKILL-safe resume, and the same result on Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

from proofs import census, cli  # noqa: E402

SEEDS = list(range(6))


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("census") / "identity.jsonl"
    return census.run_census("identity", SEEDS, out, workers=2), out


def _counts(records):
    return sorted((f.closed_form, f.seeds) for f in census.families(records))


def test_each_seed_is_one_line_and_families_partition_the_seeds(clean_run):
    records, out = clean_run
    lines = out.read_text().splitlines()
    assert sorted(json.loads(line)["seed"] for line in lines) == SEEDS
    fams = census.families(records)
    assert sorted(s for f in fams for s in f.seeds) == SEEDS
    proved = [f for f in fams if f.proved]
    assert proved and all(f.closed_form == "x" for f in proved)
    data = census.summary("identity", records)
    assert data["rounding_proved"] == sum(len(f.seeds) for f in proved)
    assert abs(sum(f["share"] for f in data["families"]) - 1) < 1e-9


def test_rerun_with_same_out_skips_done_seeds(clean_run):
    records, out = clean_run
    before = out.read_text()
    again = census.run_census("identity", SEEDS, out, workers=2)
    assert out.read_text() == before and _counts(again) == _counts(records)


def test_sigkill_then_resume_loses_and_duplicates_nothing(clean_run, tmp_path):
    records, _ = clean_run
    out = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "proofs.cli", "census", "identity", "--seeds", str(len(SEEDS)),
                             "--workers", "1", "--out", str(out), "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(out.read_text().splitlines())
    assert 2 <= done_before
    with open(out, "a") as handle:  # a record torn by the kill, mid-write
        handle.write('{"recipe": "identity", "seed": 5, "verd')
    resumed = census.run_census("identity", SEEDS, out, workers=2)
    seeds = [json.loads(line)["seed"] for line in out.read_text().splitlines()]
    assert sorted(seeds) == SEEDS and len(seeds) == len(set(seeds))
    assert _counts(resumed) == _counts(records)


def test_dask_cluster_gives_the_same_families(clean_run):
    distributed = pytest.importorskip("distributed")
    records, _ = clean_run
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        on_dask = census.run_census("identity", SEEDS, None, scheduler=cluster.scheduler_address)
    assert _counts(on_dask) == _counts(records)
    assert [census.comparable(r) for r in on_dask] == [census.comparable(r) for r in records]


def test_census_cli_errors_are_one_line(capsys, tmp_path):
    assert cli.main(["census", "no_such_recipe", "--seeds", "2"]) == 2
    assert "no_such_recipe" in capsys.readouterr().err
    assert cli.main(["census", "identity", "--seeds", "1", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "Dask scheduler" in capsys.readouterr().err
    bad = tmp_path / "other.jsonl"
    bad.write_text(json.dumps({"recipe": "minimum", "seed": 0}) + "\n")
    assert cli.main(["census", "identity", "--seeds", "1", "--out", str(bad)]) == 2


def test_census_cli_table(capsys, clean_run):
    _, out = clean_run
    assert cli.main(["census", "identity", "--seeds", str(len(SEEDS)), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "census of identity" in text and "proved" in text


def test_records_come_from_the_check_pipeline_and_keep_the_weights(clean_run):
    from networks import json_to_circuit, recipes

    records, _ = clean_run
    first = records[0]
    assert first["format"] == census.FORMAT and first["verdict"] in ("proved", "refuted")
    assert first["rounded_verdict"] == "proved" and first["denominator"] == 1
    circuit = json_to_circuit.loads(json.dumps(first["network"]))
    assert circuit == recipes.train("identity", first["seed"], progress=False).circuit  # exact weights


def test_refuted_is_said_not_failed():
    refuted = {"format": 2, "recipe": "identity", "seed": 0, "steps": None, "verdict": "refuted",
               "rounded_verdict": "refuted", "canonical": "y = 0", "closed_form": "0", "relu_form": "0",
               "features": [], "final_loss": 0.17, "network": {}}
    text = census.format_table(census.summary("identity", [refuted, {**refuted, "seed": 1,
                                                                     "rounded_verdict": "unknown"}]))
    assert "refuted" in text and "unknown" in text and "failed" not in text
    assert census.families([refuted])[0].verdict == "refuted"


def test_progress_is_a_rich_bar_on_a_terminal_and_lines_otherwise():
    import io

    from proofs.census_progress import CensusProgress

    record = {"seed": 4, "verdict": "refuted", "max_error": "1/64", "rounded_verdict": "proved", "denominator": 2,
              "extraction": {"found": True, "relus": 1, "delta_decimal": "0.015625"}}
    plain = io.StringIO()
    with CensusProgress(1, "min2_w8", stream=plain) as progress:
        progress.done(record)
    lines = plain.getvalue().splitlines()
    assert lines == ["census of min2_w8: 1 seeds to train and check",
                     "seed 4 (1/1): trained network refuted (max error 0.0156); rounding proved (q = 2); "
                     "circuit found: 1 ReLUs, delta 0.015625"]
    terminal = io.StringIO()
    with CensusProgress(2, "min2_w8", stream=terminal, terminal=True) as progress:
        time.sleep(0.3)  # the bar moves while seeds train
        progress.done(record)
    drawn = terminal.getvalue()
    assert "census of min2_w8" in drawn and "1/2" in drawn and "\x1b[" in drawn  # rich's cursor control
    quiet = io.StringIO()
    with CensusProgress(1, "min2_w8", stream=quiet, quiet=True) as progress:
        progress.done(record)
    assert quiet.getvalue() == ""


def test_census_cli_prints_a_line_per_seed_when_not_a_terminal(capsys, clean_run):
    _, out = clean_run
    extra = out.parent / "two.jsonl"
    assert cli.main(["census", "identity", "--seeds", "2", "--steps", "50", "--workers", "1", "--out",
                     str(extra)]) == 0
    err = capsys.readouterr().err
    assert "census of identity: 2 seeds to train and check" in err
    assert err.count("trained network") == 2 and "failed" not in err


def test_old_records_are_refused_with_the_reason(tmp_path):
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps({"recipe": "identity", "seed": 0, "steps": None, "verdict": "proved",
                               "canonical": "y = x"}) + "\n")
    with pytest.raises(census.errors.ParseError, match="format null, not 2"):
        census.read_results(old, "identity")


@pytest.fixture(scope="module")
def wide_record():
    return census.run_seed("min2_w8", 0)  # about 1 s of training, a circuit is found


def test_a_wide_recipe_is_grouped_by_its_extracted_circuit(wide_record):
    ex = wide_record["extraction"]
    assert ex["found"] and ex["verdict"] == "proved" and ex["relus"] == 1
    assert ex["delta"] == wide_record["max_error"]  # C = f on the domain, so max|N - C| = max|N - f|
    other = {**wide_record, "seed": 9, "extraction": {**ex, "delta": "0"}}
    lost = {**wide_record, "seed": 3, "extraction": {"found": False, "family_key": "", "verdict": "unknown",
                                                     "reason": "no simplification within the budgets tried"}}
    fams = census.families([wide_record, other, lost])
    assert [(f.verdict, f.seeds) for f in fams] == [("proved", (0, 9)), ("unknown", (3,))]
    assert fams[0].key == ex["family_key"] and fams[0].median_delta == "0"
    data = census.summary("min2_w8", [wide_record, other, lost])
    assert data["grouped_by"] == "extract" and data["circuit_found"] == 2
    assert "median delta" in census.format_table(data)


def test_the_grouping_is_redone_from_the_kept_weights_without_training(wide_record, monkeypatch):
    from networks import recipes

    monkeypatch.setattr(recipes, "train", lambda *a, **k: pytest.fail("no training when regrouping"))
    again = census.extract_again({**wide_record, "extraction": {}})
    assert again["extraction"]["family_key"] == wide_record["extraction"]["family_key"]
    assert again["extraction"]["delta"] == wide_record["extraction"]["delta"]
