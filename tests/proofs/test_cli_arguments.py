"""Command-line arguments are checked while parsing (one line naming the option and the value, exit 2),
census results files are validated before resuming, and a lost standard output is not a bug."""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
from fractions import Fraction
from pathlib import Path

import pytest

from proofs import census, cli, cli_args, cli_output


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *needles):
    assert code == 2, err
    assert err.startswith("mathcircuits: error:") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)


# -- each option: a bad value is exit 2 with one line naming the option and the value ---------------
BAD_OPTIONS = [
    (["claim", "relu(x)", "--target", "x", "--timeout", "0"], "--timeout", "'0'"),
    (["claim", "relu(x)", "--target", "x", "--timeout", "-1"], "--timeout", "'-1'"),
    (["claim", "relu(x)", "--target", "x", "--timeout", "nan"], "--timeout", "'nan'"),
    (["claim", "relu(x)", "--target", "x", "--timeout", "inf"], "--timeout", "'inf'"),
    (["claim", "relu(x)", "--target", "x", "--timeout", "1e9"], "--timeout", "'1e9'"),
    (["claim", "relu(x)", "--target", "x", "--timeout", "soon"], "--timeout", "'soon'"),
    (["prove", "--timeout", "0"], "--timeout", "'0'"),
    (["report", "--out", "r", "--timeout", "-5"], "--timeout", "'-5'"),
    (["simplify", __file__, "--timeout", "0"], "--timeout", "'0'"),
    (["explain", "relu(x)", "--timeout", "nan"], "--timeout", "'nan'"),
    (["claim", "relu(x)", "--target", "x", "--tolerance=-1"], "--tolerance", "'-1'"),
    (["claim", "relu(x)", "--target", "x", "--tolerance", "nan"], "--tolerance", "'nan'"),
    (["claim", "relu(x)", "--target", "x", "--tolerance", "inf"], "--tolerance", "'inf'"),
    (["claim", "relu(x)", "--target", "x", "--tolerance", "1e999999"], "--tolerance", "'1e999999'"),
    (["claim", "relu(x)", "--target", "x > 0", "--threshold", "inf"], "--threshold", "'inf'"),
    (["simplify", __file__, "--tolerance=-1"], "--tolerance", "'-1'"),
    (["simplify", __file__, "--tolerance", "-1/100"], "--tolerance", "'-1/100'"),
    (["census", "identity", "--seeds", "0"], "--seeds", "'0'"),
    (["census", "identity", "--seeds", "1000000000"], "--seeds", "'1000000000'"),
    (["census", "identity", "--seeds", "1.5"], "--seeds", "'1.5'"),
    (["census", "identity", "--seeds", "1", "--steps=-1"], "--steps", "'-1'"),
    (["census", "identity", "--seeds", "1", "--steps", "10000000"], "--steps", "'10000000'"),
    (["census", "identity", "--seeds", "1", "--first=-3"], "--first", "'-3'"),
    (["census", "identity", "--seeds", "1", "--workers", "1000"], "--workers", "'1000'"),
    (["census", "identity", "--seeds", "1", "--workers", "0"], "--workers", "'0'"),
    (["census", "identity", "--seeds", "1", "--scheduler", "foo://bar"], "--scheduler", "'foo://bar'"),
    (["census", "identity", "--seeds", "1", "--scheduler", "tcp://host:notaport"], "--scheduler", "notaport"),
    (["census", "identity", "--seeds", "1", "--scheduler", "tcp://host:70000"], "--scheduler", "70000"),
    (["census", "identity", "--seeds", "1", "--scheduler", "tcp://:8786"], "--scheduler", "'tcp://:8786'"),
    (["census", "identity", "--seeds", "1", "--connect-timeout", "0"], "--connect-timeout", "'0'"),
    (["census", "identity", "--seeds", "1", "--out", ""], "--out", "''"),
    (["train", "identity", "--seed=-1", "--out", "m.json"], "--seed", "'-1'"),
    (["train", "identity", "--seed", "9223372036854775808", "--out", "m.json"], "--seed", "9223372036854775808"),
    (["train", "identity", "--seed", "0", "--out", ""], "--out", "''"),
    (["train", "identity", "--seed", "0", "--out", "m.json", "--steps", "-2"], "--steps", "'-2'"),
    (["report", "--out", ""], "--out", "''"),
    (["report", "--out", "r", "--format", "pdf"], "--format", "'pdf'"),
    (["report", "--out", "r", "--format", ","], "--format", "','"),
    (["check", "/dev/zero", "--target", "x"], "MODEL", "character device"),
    (["check", "no_such_model.json", "--target", "x"], "MODEL", "no_such_model.json"),
    (["check", __file__, "--target", "x", "--max-model-bytes", "0"], "--max-model-bytes", "'0'"),
    (["check", __file__, "--target", "x", "--max-model-bytes", "lots"], "--max-model-bytes", "'lots'"),
    (["check", __file__, "--target", "x", "--max-model-bytes", "100T"], "--max-model-bytes", "'100T'"),
]


@pytest.mark.parametrize("argv,option,value", BAD_OPTIONS, ids=[" ".join(a[0:1] + a[-2:]) for a, _, _ in BAD_OPTIONS])
def test_bad_option_values_are_one_line_naming_option_and_value(capsys, argv, option, value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, option, value)
    assert "internal error" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written: the error comes before any work


def test_limits_are_stated_in_the_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["census", "--help"])
    text = capsys.readouterr().out
    assert f"1..{cli_args.MAX_SEEDS}" in text and f"1..{cli_args.MAX_WORKERS}" in text and "--restart" in text


def test_census_seed_range_past_the_largest_seed_is_refused(capsys):
    code, _, err = run(capsys, "census", "identity", "--seeds", "2", "--first", str(cli_args.MAX_SEED))
    one_line_error(code, err, "--first", str(cli_args.MAX_SEED))


def test_restart_needs_out(capsys):
    code, _, err = run(capsys, "census", "identity", "--seeds", "1", "--restart")
    one_line_error(code, err, "--restart", "--out")


# -- output paths are checked before any work ----------------------------------------------------------
def test_output_paths_are_checked_before_work(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        (["census", "identity", "--seeds", "1", "--out", str(tmp_path)], "--out", "a folder"),
        (["census", "identity", "--seeds", "1", "--out", str(tmp_path / "missing" / "r.jsonl")], "--out",
         "does not exist"),
        (["census", "identity", "--seeds", "1", "--out", str(blocker / "r.jsonl")], "--out", "is not a folder"),
        (["census", "identity", "--seeds", "1", "--out", "/dev/null"], "--out", "character device"),
        (["train", "identity", "--seed", "0", "--out", str(tmp_path)], "--out", "a folder"),
        (["train", "identity", "--seed", "0", "--out", str(blocker / "m.json")], "--out", "is not a folder"),
        (["report", "--out", str(blocker)], "--out", "a file"),
        (["report", "--out", str(blocker / "sub" / "deeper")], "--out", "which is a file"),
        (["prove", "identity", "--report", str(blocker)], "--report", "a file"),
        (["claim", "relu(x)", "--target", "x", "--report", ""], "--report", "''"),
    ]
    for argv, option, needle in cases:
        code, _, err = run(capsys, *argv)
        one_line_error(code, err, option, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs /sys: an unwritable folder even for root")
def test_unwritable_folder_is_found_by_writing_not_by_permission_bits(capsys):
    # root passes every os.access check; the probe writes a temporary file and deletes it
    code, _, err = run(capsys, "train", "identity", "--seed", "0", "--out", "/sys/kernel/m.json")
    one_line_error(code, err, "--out", "cannot write in folder")


def test_probe_leaves_nothing_behind(tmp_path):
    assert cli_args.output_file(str(tmp_path / "r.jsonl")) == tmp_path / "r.jsonl"
    assert cli_args.report_folder(str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []
    existing = tmp_path / "old.jsonl"
    existing.write_text("keep\n")
    cli_args.output_file(str(existing))
    assert existing.read_text() == "keep\n"


# -- parsers of single values --------------------------------------------------------------------------
def test_value_parsers_accept_what_they_document():
    assert cli_args.seconds("0.001") == 0.001 and cli_args.seconds("1e6") == 1e6
    assert cli_args.non_negative_number("0") == 0
    assert cli_args.exact_number("-1e-3") == Fraction(-1, 1000)
    assert cli_args.integer(0, 5)("+5") == 5
    assert cli_args.byte_size("1") == 1 and cli_args.byte_size("2KiB") == 2048 and cli_args.byte_size("1g") == 2**30
    assert cli_args.scheduler_address("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"
    assert cli_args.scheduler_address("scheduler.example.org:1") == "tcp://scheduler.example.org:1"
    assert cli_args.report_formats("json,json, md") == ("json", "md")


@pytest.mark.parametrize("function,text", [
    (cli_args.seconds, "0.0009"), (cli_args.seconds, "1e400"), (cli_args.seconds, ""),
    (cli_args.integer(0, 5), "6"), (cli_args.integer(0, 5), "0x5"), (cli_args.integer(0, 5), "5" * 40),
    (cli_args.byte_size, "-1"), (cli_args.byte_size, "1.5G"), (cli_args.byte_size, "1__0"),
    (cli_args.byte_size, "9" * 5000), (cli_args.scheduler_address, "inproc://x:1"),
    (cli_args.scheduler_address, "tcp://[::1]"), (cli_args.scheduler_address, "tcp://a b:1"),
    (cli_args.scheduler_address, "tcp://host:٣"), (cli_args.non_negative_number, "__import__('os')"),
])
def test_value_parsers_refuse(function, text):
    with pytest.raises(argparse.ArgumentTypeError, match="got"):
        function(text)


def test_workers_cap_is_four_per_core():
    assert cli_args.MAX_WORKERS == 4 * (os.cpu_count() or 1)
    assert cli_args.workers(str(cli_args.MAX_WORKERS)) == cli_args.MAX_WORKERS
    with pytest.raises(argparse.ArgumentTypeError, match="4 per core"):
        cli_args.workers(str(cli_args.MAX_WORKERS + 1))


# -- census results files --------------------------------------------------------------------------------
def record(seed=0, **changes):
    base = {"format": 2, "recipe": "identity", "seed": seed, "steps": None, "verdict": "proved",
            "rounded_verdict": "proved", "network": {}, "canonical": "y = x",
            "closed_form": "x", "relu_form": "x", "features": [], "final_loss": 0.0}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def write_lines(path, *lines):
    path.write_bytes(b"".join(line if isinstance(line, bytes) else (json.dumps(line) + "\n").encode()
                              for line in lines))


CORRUPT = {
    "not UTF-8": b"\xff\xfe{}\n",
    "not JSON": b"{\"recipe\": \n",
    "a JSON list": b"[1, 2]\n",
    "no seed": record(...),
    "not an integer": record("3"),
    "not an integer in": record(True),
    "no verdict": record(2, verdict=...),
    "is not one of": record(2, verdict="maybe"),
    "not 'identity'": record(2, recipe="minimum"),
    "no recipe": record(2, recipe=...),
    "canonical": record(2, canonical=...),
    "features": record(2, features="x"),
    "steps": record(2, steps=5),
}


@pytest.mark.parametrize("why", CORRUPT)
def test_a_corrupted_record_is_one_error_naming_its_line(tmp_path, why):
    out = tmp_path / "r.jsonl"
    write_lines(out, record(0), CORRUPT[why], record(1))
    before = out.read_bytes()
    with pytest.raises(census.errors.ParseError) as info:
        census.read_results(out, "identity")
    assert f"{out}:2 is not a census record" in str(info.value) and why in str(info.value)
    assert "--restart" in str(info.value) and "\n" not in str(info.value)
    assert out.read_bytes() == before  # nothing repaired or cut


def test_corrupted_results_file_through_the_cli(capsys, tmp_path):
    out = tmp_path / "r.jsonl"
    write_lines(out, record(0), record("seven"))
    code, _, err = run(capsys, "census", "identity", "--seeds", "1", "--out", str(out))
    one_line_error(code, err, f"{out}:2", "seed")


def test_torn_last_line_is_cut_and_valid_records_kept(tmp_path):
    out = tmp_path / "r.jsonl"
    write_lines(out, record(0), record(1), b'{"recipe": "identity", "seed": 2, "verd')
    done = census.read_results(out, "identity")
    assert sorted(done) == [0, 1]
    assert out.read_bytes().endswith(b"\n") and len(out.read_text().splitlines()) == 2


def test_a_last_line_that_is_no_record_is_not_cut(tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("my notes, no newline at the end")
    with pytest.raises(census.errors.ParseError, match=":1 is not a census record"):
        census.read_results(out, "identity")
    assert out.read_text() == "my notes, no newline at the end"


def test_an_overlong_line_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    from proofs import census_records

    monkeypatch.setattr(census_records, "MAX_LINE_BYTES", 300)
    out = tmp_path / "r.jsonl"
    write_lines(out, record(0), b"{" + b" " * 500 + b"}\n")
    with pytest.raises(census.errors.ParseError, match=":2 is not a census record: a line of more than 300"):
        census.read_results(out, "identity")


def test_records_of_other_steps_are_not_mixed(tmp_path):
    out = tmp_path / "r.jsonl"
    write_lines(out, record(0, steps=10))
    assert sorted(census.read_results(out, "identity", steps=10)) == [0]
    with pytest.raises(census.errors.ParseError, match="steps 10"):
        census.read_results(out, "identity")


def test_restart_empties_the_file_before_anything_runs(tmp_path):
    out = tmp_path / "r.jsonl"
    write_lines(out, record(0), b"\xff garbage\n")
    with pytest.raises(census.errors.ParseError):
        census.run_census("identity", [], out)
    assert census.run_census("identity", [], out, restart=True) == []
    assert out.read_bytes() == b""


def test_errors_and_records_summarise(tmp_path):
    out = tmp_path / "r.jsonl"
    write_lines(out, record(0), record(1, verdict="error", error="diverged", canonical=..., rounded_verdict=...,
                                       network=...))
    data = census.summary("identity", list(census.read_results(out, "identity").values()))
    assert data["seeds"] == 2 and data["trained_proved"] == 1 and data["rounding_proved"] == 1


# -- standard output -------------------------------------------------------------------------------------
class FailingStream(io.StringIO):
    def __init__(self, error):
        super().__init__()
        self.error = error

    def flush(self):
        raise self.error


@pytest.mark.parametrize("error,code,message", [
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), 141, ""),
    (OSError(errno.ENOSPC, "No space left on device"), 2, "cannot write the output: No space left on device"),
])
def test_lost_standard_output_is_not_an_internal_error(monkeypatch, capsys, error, code, message):
    monkeypatch.setattr("sys.stdout", FailingStream(error))
    assert cli_output.run_guarded(lambda: print("verdict") or 0) == code
    err = capsys.readouterr().err
    assert (message in err and err.count("\n") == 1) if message else err == ""


def test_other_errors_are_not_taken_for_lost_output(capsys):
    def fail():
        raise OSError(errno.ENOSPC, "disk full elsewhere")

    with pytest.raises(OSError):
        cli_output.run_guarded(fail)


def test_cli_limits_match_the_library(tmp_path):
    from networks import recipes

    assert cli_args.MAX_STEPS == recipes.MAX_STEPS and cli_args.MAX_SEED == 2**63 - 1
    with pytest.raises(recipes.ClaimError, match="it is a folder"):
        recipes.train_to_file("identity", 0, tmp_path)  # refused before any training
    with pytest.raises(recipes.ClaimError, match="steps must be an integer in"):
        recipes.train("identity", 0, steps=recipes.MAX_STEPS + 1)


def test_progress_bar_survives_a_terminal_that_went_away():
    from proofs.progress import Progress

    class GoneTerminal(io.StringIO):
        def isatty(self):
            return True

        def write(self, text):
            raise OSError(errno.EIO, "Input/output error")

    bar = Progress(3, "seeds", stream=GoneTerminal())
    for _ in range(3):
        bar.step("seed")  # no exception: the bar turns itself off
    assert not bar.enabled and bar.count == 3


@pytest.mark.parametrize("tail", [b'{"setting": 1}', b"plain text", "{\"caf\u00e9\": ".encode()])
def test_a_file_that_is_not_a_census_is_never_cut(tmp_path, tail):
    out = tmp_path / "config.json"
    out.write_bytes(tail)  # one line, no newline: not something a killed census leaves
    with pytest.raises(census.errors.ParseError, match=":1 is not a census record"):
        census.read_results(out, "identity")
    assert out.read_bytes() == tail


def test_a_whole_record_without_its_newline_is_cut_and_rerun(tmp_path):
    out = tmp_path / "r.jsonl"
    write_lines(out, record(0))
    out.write_bytes(out.read_bytes() + json.dumps(record(1), sort_keys=True).encode())
    assert sorted(census.read_results(out, "identity")) == [0]
    assert len(out.read_text().splitlines()) == 1
