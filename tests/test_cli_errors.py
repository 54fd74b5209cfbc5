"""Every subcommand answers bad input with exit code 2 and one ``error:`` line, before any work and
without leaving files behind; the package's expected errors (a full or read-only disk, a diverged
training) end the same way instead of as a traceback.

The bad-input table itself is ``benchmarks/bad_inputs.py`` (CLI cases in subprocesses); here its API
cases all run and its CLI cases run in-process through ``cli.main`` (seconds).
"""

from __future__ import annotations

import errno
import importlib.util
import sys
from pathlib import Path

import pytest

from lottery_lab import cli

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--data", "synthetic", "--data-kw", '{"n_train": 64}', "--model-kw", '{"width": 0.05}', "--epochs", "1",
        "--rounds", "1", "--no-progress", "--device", "cpu"]


def _table():
    spec = importlib.util.spec_from_file_location("bad_inputs", ROOT / "benchmarks" / "bad_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bad_inputs"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


bad_inputs = _table()


def _error(capsys, argv: list[str]) -> str:
    """Run ``lottery-lab ARGV`` in-process; it must exit 2 with exactly one error line; that line."""
    capsys.readouterr()
    try:
        rc = cli.main(argv)
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_every_api_case_of_the_table_is_rejected_naming_the_argument():
    outcomes = [bad_inputs.run_api(case, limit=20.0) for case in bad_inputs.api_cases()]
    assert len(outcomes) >= 200
    failed = [f"{o.case}: {o.outcome} {o.message}" for o in outcomes if not o.ok]
    assert not failed, "\n".join(failed)


def test_the_cli_cases_of_the_table_in_process(tmp_path):
    bad_inputs.make_tiny_run(tmp_path / "tiny")
    cases = [c for c in bad_inputs.cli_cases() if "diverges" not in c.name]  # that one trains: below, faked
    outcomes = [bad_inputs.run_cli(case, limit=60.0, in_process=True) for case in cases]
    assert len(outcomes) >= 100
    failed = [f"{o.case}: {o.outcome} {o.message}" for o in outcomes if not o.ok]
    assert not failed, "\n".join(failed)


@pytest.fixture
def no_training(monkeypatch):
    """Make any training attempt fail the test: the command must stop before it."""
    from lottery_lab import lottery

    def play(*args, **kwargs):
        raise AssertionError("play() was called: the bad input was not caught before the work")

    monkeypatch.setattr(lottery, "play", play)


@pytest.mark.parametrize("extra, words", [
    (["--model-kw", '{"widht": 0.5}'], "widht"),
    (["--model", "conv2"], "conv2"),
    (["--model-kw", '{"hidden": "abc"}'], "model_kw"),
    (["--data-kw", '{"foo": 1}'], "unknown key\\(s\\) foo"),
    (["--iterations", "0"], "error: iterations=0 must"),  # used to blame rewind_iter
    (["--milestones", "1.5"], "milestones=\\(1.5,\\)"),
    (["--method", "l0", "--method-kw", '{"per_layer": "false"}'], "per_layer='false'"),
])
def test_rejected_run_leaves_nothing_on_disk(tmp_path, capsys, extra, words):
    out = tmp_path / "runs"
    line = _error(capsys, ["run", *TINY, "--out-dir", str(out), *extra])  # later options win
    assert __import__("re").search(words, line), line
    assert not out.exists()  # no runs/<method>-<hash>/config.json left behind


@pytest.mark.parametrize("name, obj, words", [
    ("m.json", {"milestones": 0.5}, "milestones=0.5 must be a list"),
    ("mom.json", {"momentum": "0.9"}, "momentum='0.9' must be a number"),
])
def test_config_file_values_of_the_wrong_kind(tmp_path, capsys, no_training, name, obj, words):
    import json

    (tmp_path / name).write_text(json.dumps(obj))
    assert words in _error(capsys, ["run", "--config", str(tmp_path / name)])


def test_output_paths_are_checked_before_training(tmp_path, capsys, no_training):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "is a file, not a folder" in _error(capsys, ["run", *TINY, "--out-dir", str(afile)])
    assert "is a file, not a folder" in _error(capsys, ["run", *TINY, "--plot", str(afile / "p.png")])
    assert "file type must be one of" in _error(capsys, ["run", *TINY, "--plot", str(tmp_path / "p.xyz")])
    assert "is a folder" in _error(capsys, ["compare", "--quick", "--csv", str(tmp_path)])
    assert "is a file" in _error(capsys, ["convex", "--quick", "--out", str(afile)])
    assert "is a file" in _error(capsys, ["demo", "--out", str(afile)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_read_only_output_folder_is_one_message(tmp_path, capsys, monkeypatch, no_training):
    """A read-only mount (root ignores permission bits, so the folder's mode cannot show it here)."""
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(cli.tempfile, "TemporaryFile", read_only)
    line = _error(capsys, ["run", *TINY, "--out-dir", str(tmp_path / "runs")])
    assert f"cannot write in {tmp_path} (Read-only file system)" in line
    assert list(tmp_path.iterdir()) == []


def test_full_disk_is_one_message_naming_the_folder(tmp_path, capsys, monkeypatch):
    """A full disk fails a write with ENOSPC and no file name; the message names the output folder."""
    from lottery_lab import runs

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs, "atomic_write", full)
    out = tmp_path / "runs"
    line = _error(capsys, ["run", *TINY, "--out-dir", str(out)])
    assert line.startswith("lottery-lab run: error: No space left on device: ") and str(out) in line
    assert "rerun" in line


def test_training_diverged_is_one_message(capsys, monkeypatch):
    from lottery_lab import lottery
    from lottery_lab.train import TrainingDiverged

    def diverge(config, data=None):
        raise TrainingDiverged("training diverged in round 0, epoch 1 (train): the mean loss is nan; lower lr")

    monkeypatch.setattr(lottery, "play", diverge)
    line = _error(capsys, ["run", *TINY, "--out-dir", "none", "--lr", "1e6"])
    assert line == "lottery-lab run: error: training diverged in round 0, epoch 1 (train): the mean loss is nan; lower lr"


def test_report_names_a_config_json_that_is_not_json(tmp_path, capsys):
    run = tmp_path / "imp-0123456789"
    run.mkdir()
    (run / "config.json").write_text("{not json")
    line = _error(capsys, ["report", str(run), "--plot", str(tmp_path / "r.png")])
    assert f"{run / 'config.json'} is not a readable run record" in line


def test_a_traceback_on_request(tmp_path, monkeypatch):
    """LOTTERY_LAB_TRACEBACK=1 re-raises, for debugging the package itself."""
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("LOTTERY_LAB_TRACEBACK", "1")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        cli.main(["demo", "--out", str(tmp_path / "afile")])
