"""Command line: --help on every command, unknown experiment name, bad output path, exit codes; the README's
set-up commands agree with .ci/run and pyproject's console script."""
from __future__ import annotations

import re

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from proofs_numeric import cli
from proofs_numeric.checks.result import CheckResult

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class _FakeResult:
    claims: list
    figures: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)


def _fake_run(name, out_dir, *, seeds=None, quick=False, progress=True):
    ok = name == "good"
    return _FakeResult([CheckResult(f"{name}-claim", "the paper's claim", 1.0, 0.5, ok, comparison=">=")],
                       tables={"ordering": [{"algo": "GD", "seeds": len(seeds or [0])}]})


@pytest.fixture
def fake_experiments(monkeypatch):
    monkeypatch.setattr("proofs_numeric.verify.load_experiments",
                        lambda: ({"good": None, "bad": None}, _fake_run))


@pytest.mark.parametrize("argv", [["--help"], ["verify", "--help"], ["experiment", "--help"], ["list", "--help"]])
def test_help_on_every_command(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 0
    assert "usage: proofs-numeric" in capsys.readouterr().out


def test_unknown_experiment_lists_valid_names(fake_experiments, capsys, tmp_path):
    assert cli.main(["experiment", "nope", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'nope'" in err and "good, bad" in err
    assert not (tmp_path / "o").exists()


def test_experiment_writes_report_and_exit_code_follows_verdict(fake_experiments, tmp_path, capsys):
    assert cli.main(["experiment", "good", "--out", str(tmp_path / "g"), "--seeds", "3", "--no-progress"]) == 0
    md = (tmp_path / "g" / "report.md").read_text()
    assert "good-claim" in md and "| GD | 3 |" in md
    assert cli.main(["experiment", "bad", "--out", str(tmp_path / "b"), "--no-progress"]) == 1


def test_verify_refuses_a_file_as_output_dir(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("")
    assert cli.main(["verify", "--quick", "--out", str(f)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_seeds_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["experiment", "x", "--seeds", "0"])
    assert exc.value.code == 2 and "positive integer" in capsys.readouterr().err


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^\s*(python3 -m venv .+)$", text, flags=re.M)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    cmds = _readme_commands()
    assert len(cmds) == 2, cmds
    main_job, tests = cmds
    assert "pip install torch==2.13.0 && pip install -e ." in main_job and "proofs-numeric verify --quick" in main_job
    assert "pip install torch==2.13.0 && pip install -e \".[test]\"" in tests
    test_cmd = tests.split("&&")[-1].strip()
    assert test_cmd.startswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    ci_lines = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert ci_lines[-1] in (test_cmd, f"exec {test_cmd}"), ci_lines[-1]
    for step in tests.split("&&")[:-1]:  # every set-up step of the README appears in .ci/run
        assert step.strip() in ci, step


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["proofs-numeric"] == "proofs_numeric.cli:main"
