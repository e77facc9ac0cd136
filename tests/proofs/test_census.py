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
    assert data["proved"] == sum(len(f.seeds) for f in proved)
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
    assert [r["canonical"] for r in on_dask] == [r["canonical"] for r in records]


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
