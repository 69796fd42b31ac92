"""Time budget (issue 12, resource limits): ``max_seconds`` stops experiments and verify cleanly, keeps finished
cached runs, and reports what it did not evaluate as "no evidence" (never a pass)."""
from __future__ import annotations

import json
import math
import time

import pytest

from proofs_numeric import budget, cli
from proofs_numeric.checks.registry import STOPPED, Suite
from proofs_numeric.experiments import base, run_experiment
from proofs_numeric.experiments.cache import RunCache
from proofs_numeric.results import CheckResult


INTERRUPT_AT = {}   # run name -> step at which a simulated Ctrl-C arrives


def _slow_training(steps: int, seconds_per_step: float, desc: str) -> int:
    """A training loop as the experiments write it: one ``update(1)`` per step on its progress object."""
    bar = budget.step_bar(steps, desc, progress=False)
    try:
        for t in range(steps):
            if INTERRUPT_AT.get(desc) == t:
                raise KeyboardInterrupt
            time.sleep(seconds_per_step)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return steps


@pytest.fixture
def two_run_experiment():
    """Registers 'budget_probe': run 'fast' (1 step) then run 'slow' (400 steps of 10 ms), each cached."""
    def run(out, *, seeds=None, quick=False, progress=True):
        cache = RunCache(out / "cache", "budget_probe", 1)
        done = {}
        for name, steps in (("fast", 1), ("slow", 400)):
            cfg = {"run": name}
            done[name] = cache.load(cfg)
            if done[name] is None:
                done[name] = _slow_training(steps, 0.01, name)
                cache.save(cfg, done[name])
        claim = CheckResult("probe-claim", "both runs finished", float(sum(done.values())), 401, True, ">=")
        return base.ExperimentResult("budget_probe", [claim], summary=cache.summary_line())
    base.EXPERIMENTS["budget_probe"] = base.Experiment("budget_probe", run, "probe")
    yield
    del base.EXPERIMENTS["budget_probe"]


def test_budget_stops_the_experiment_keeps_the_finished_run_and_reports_no_evidence(two_run_experiment, tmp_path):
    t0 = time.monotonic()
    res = run_experiment("budget_probe", tmp_path, progress=False, max_seconds=0.5)
    assert time.monotonic() - t0 < 3.0                     # 400 x 10 ms = 4 s without the budget
    assert res.budget_stop.startswith("slow, step ")
    [row] = res.claims
    assert row.verdict == "no evidence" and not row.as_expected and not res.ok
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1        # 'fast' finished and is kept
    again = run_experiment("budget_probe", tmp_path, progress=False)  # no budget: reuses 'fast', trains 'slow'
    assert again.budget_stop == "" and again.ok
    assert again.summary.startswith("1 of 2 runs reused")


def test_without_a_budget_nothing_is_checked():
    assert budget.current() is None and budget.step_bar(10, "x", progress=False) is None
    assert budget.time_limit(120.0) == 120.0
    with budget.limit(60) as dl:
        assert budget.current() is dl and 0 < budget.time_limit(120.0) <= 60
        with budget.limit(600) as inner:                   # an enclosing earlier deadline stays in force
            assert inner is dl
    assert budget.current() is None


def test_an_expired_budget_raises_at_the_next_check_and_is_not_an_exception():
    with budget.limit(0.05):
        time.sleep(0.06)
        with pytest.raises(budget.BudgetExhausted, match=r"time budget of 0.05 s ended the run at here"):
            budget.check("here")
        try:                                               # an `except Exception` around a solve does not swallow it
            budget.time_limit(10.0, "a solve")
        except Exception:  # noqa: BLE001
            pytest.fail("BudgetExhausted was caught by `except Exception`")
        except budget.BudgetExhausted as stop:
            assert stop.where == "a solve" and stop.seconds >= 0.05


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1.0, ValueError), (math.nan, ValueError),
                                     (math.inf, ValueError), ("10", TypeError), (True, TypeError)])
def test_max_seconds_must_be_a_positive_finite_number(bad, exc, tmp_path):
    with pytest.raises(exc, match="max_seconds"):
        run_experiment("teacher_student", tmp_path, max_seconds=bad)


def test_verify_budget_skips_later_suites_as_no_evidence(tmp_path):
    def slow(quick, figdir):
        time.sleep(0.3)
        return [CheckResult("slow-check", "holds", 0.0, 1.0, True)]
    registry = {"slow": Suite("slow", "Slow", slow), "later": Suite("later", "Later", slow)}
    from proofs_numeric.verify import verify
    report, paths = verify(tmp_path / "r", registry=registry, with_experiments=False, progress=False,
                           max_seconds=0.1)
    status = {s.name: s.status for s in report.sections}
    assert status == {"slow": "ok", "later": STOPPED}
    later = next(s for s in report.sections if s.name == "later").results[0]
    assert later.verdict == "no evidence" and not report.ok
    assert json.loads(paths[2].read_text())["metadata"]["max_seconds"] == 0.1
    report2, _ = verify(tmp_path / "r2", registry=registry, with_experiments=False, progress=False)
    assert report2.ok                                      # negative control: the same job without the budget


def test_teacher_student_stops_within_the_budget(tmp_path, one_thread):
    res = run_experiment("teacher_student", tmp_path, quick=True, seeds=[0], progress=False, max_seconds=0.3)
    assert res.budget_stop.startswith("teacher-student alpha=0.1")
    assert [c.verdict for c in res.claims] == ["no evidence"]


@pytest.mark.parametrize("arg", ["0", "-3", "nan", "inf", "ten"])
def test_cli_max_seconds_is_checked(arg, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["experiment", "teacher_student", "--max-seconds", arg])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--max-seconds expects" in err and "Traceback" not in err


def test_cli_experiment_budget_exit_code_and_report(two_run_experiment, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("proofs_numeric.verify.load_experiments",
                        lambda: ({"budget_probe": None}, run_experiment))
    code = cli.main(["experiment", "budget_probe", "--out", str(tmp_path / "o"), "--max-seconds", "0.3",
                     "--no-progress"])
    assert code == 1
    md = (tmp_path / "o" / "report.md").read_text()
    assert "budget_probe: time budget" in md and "NO EVIDENCE" in md and STOPPED in md


def test_ctrl_c_during_an_experiment_says_where_and_keeps_finished_runs(two_run_experiment, tmp_path, capsys,
                                                                        monkeypatch):
    """Before: a bare KeyboardInterrupt traceback. Now: exit code 130, one message naming the experiment, no
    report (reports are written once everything ran), and the run that finished is in the cache."""
    monkeypatch.setattr("proofs_numeric.verify.load_experiments",
                        lambda: ({"budget_probe": None}, run_experiment))
    monkeypatch.setitem(INTERRUPT_AT, "slow", 3)
    code = cli.main(["experiment", "budget_probe", "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    assert "interrupted (Ctrl-C) during experiment 'budget_probe'" in err and "run cache" in err
    assert not (tmp_path / "o" / "report.md").exists()
    assert len(list((tmp_path / "o" / "cache").glob("*.json"))) == 1           # 'fast' is kept


def test_budget_stops_a_suite_inside_a_long_integrate_run(tmp_path):
    import math
    from proofs_numeric.flow import integrate
    from proofs_numeric.flow.cases import linear_case

    def deep(quick, figdir):
        m, th, data = linear_case(0)
        tr = integrate(m, th, data, norm="linf", target_log_loss=-1e300 * math.log(10), max_seconds=60,
                       margin_norms=())
        return [CheckResult("deep-check", "holds", float(tr.log10_loss[-1]), 0.0, True)]
    registry = {"deep": Suite("deep", "Deep", deep)}
    from proofs_numeric.verify import verify
    t0 = time.perf_counter()
    report, _ = verify(tmp_path / "r", registry=registry, with_experiments=False, progress=False, max_seconds=0.5)
    assert time.perf_counter() - t0 < 30                   # not the run's own 60 s: the budget ended it
    section = report.sections[0]
    assert section.status == STOPPED and "of integrate" in section.results[0].detail["where"]
    assert section.results[0].verdict == "no evidence" and not report.ok
