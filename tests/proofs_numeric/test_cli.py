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
    assert "pip install torch==2.13.0 && pip install -e \".[test,cluster]\"" in tests
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


def _md_rows(md: str) -> dict:
    """check id -> cells of its row in report.md's check tables (8 columns)."""
    rows = {}
    for line in md.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 8 and cells[0] not in ("check", "---"):
            rows[cells[0]] = cells
    return rows


def test_report_json_agrees_with_report_md_on_a_quick_suite(tmp_path, capsys):
    import json
    from proofs_numeric.report.model import fmt_num
    out = tmp_path / "r"
    assert cli.main(["verify", "--quick", "--suite", "flow-identities", "--no-experiments", "--no-progress",
                     "--out", str(out)]) == 0
    data = json.loads((out / "report.json").read_text())
    md_rows = _md_rows((out / "report.md").read_text())
    assert len(data["rows"]) == len(md_rows) == 12        # 9 positive checks and 3 controls, nothing else ran
    keys = {"id", "suite", "claim", "definition", "measured", "threshold", "verdict", "is_control",
            "informational", "case", "figures"}
    for row in data["rows"]:
        assert keys <= set(row) and row["suite"] == "flow-identities"
        cells = md_rows[row["id"]]
        assert cells[4] == fmt_num(row["measured"]) and cells[5] == row["threshold"]
        assert cells[6].split(" (")[0].lower() == row["verdict"]
        assert ("(negative control)" in cells[6]) == row["is_control"]
        assert row["case"]["n"] == 10 or row["case"]["model"] == "OffsetLinear"
    counts = data["counts"]
    assert counts["checks"] == 9 and counts["controls"] == 3 and data["verdict"] == "ALL AS EXPECTED"


def test_verify_list_and_unknown_suite(capsys, tmp_path):
    assert cli.main(["verify", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "flow-identities" in listed and "teacher_student" in listed
    assert cli.main(["verify", "--suite", "nope", "--out", str(tmp_path / "o")]) == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_experiment_json_prints_the_machine_readable_report(fake_experiments, tmp_path, capsys):
    import json
    assert cli.main(["experiment", "good", "--out", str(tmp_path / "g"), "--no-progress", "--json"]) == 0
    cap = capsys.readouterr()
    data = json.loads(cap.out)                             # stdout holds the JSON only
    assert [r["id"] for r in data["rows"]] == ["good-claim"] and data["rows"][0]["verdict"] == "pass"
    assert "verdict: ALL AS EXPECTED" in cap.err


def test_ctrl_c_says_where_it_stopped_and_what_survives(monkeypatch, capsys, tmp_path):
    import proofs_numeric.cli as cli

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_experiment", interrupt)
    code = cli.main(["experiment", "teacher_student", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 130
    assert "interrupted" in err and "'teacher_student'" in err and "cache" in err and "No report" in err
