"""Sweeps end to end on a tiny teacher-student grid (2 widths x 2 seeds, 80 steps): in-process and process
executors, resume after a partial run (merged results byte-identical), failure isolation, the report."""
import json
import math

import pytest

from proofs_numeric.cli import main
from proofs_numeric.sweep import parse_spec, run_sweep, sweep_report
from proofs_numeric.sweep.records import record_path

TINY = {"steps": 80, "n_test": 200, "kkt_runs": 0, "d": 8, "n": 16, "n_records": 10}


def tiny_spec(widths=(6, 12), seeds=2, **report):
    return parse_spec({"sweep": {"experiment": "teacher_student", "quick": True, "seeds": seeds},
                       "fixed": dict(TINY), "grid": {"width": list(widths)}, "report": report})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted in-process run of the tiny sweep."""
    out = tmp_path_factory.mktemp("sweep-ref")
    summary = run_sweep(tiny_spec(figure="SD:own_margin", x="width"), out, progress=False)
    return out, summary


def test_in_process_runs_every_task_and_merges(reference):
    out, summary = reference
    assert (summary.total, summary.skipped, summary.ran, summary.failures) == (4, 0, 4, [])
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    assert sorted((r["config"]["width"], r["seeds"][0]) for r in rows) == [(6, 0), (6, 1), (12, 0), (12, 1)]
    r = rows[0]
    assert r["code_version"] and {"claims", "finals", "series"} <= set(r)
    assert len(r["series"]) == 5                     # GD, CD, SD, GD->SD, GD->CD for one seed
    assert all(len(s["log_loss"]) == len(s["steps"]) for s in r["series"])
    timing = [json.loads(line) for line in (out / "timing.jsonl").read_text().splitlines()]
    assert all(t["wall_time_s"] > 0 and t["host"] for t in timing)
    finals = [json.loads(line) for line in (out / "finals.jsonl").read_text().splitlines()]
    assert {"config.width", "figure", "value"} <= set(finals[0])


def result_lines(out) -> dict:
    """task id -> its line of results.jsonl (the exact text)."""
    return {json.loads(line)["task_id"]: line for line in (out / "results.jsonl").read_text().splitlines()}


def test_resume_runs_only_unfinished_tasks_and_merges_identically(reference, tmp_path):
    spec = tiny_spec(widths=(6,))                                       # 2 of the reference's 4 tasks
    first = run_sweep(spec, tmp_path, progress=False, only=1)          # "killed" after one task
    assert (first.ran, first.skipped) == (1, 0)
    done = [p for p in (tmp_path / "records").iterdir()]
    before = {p.name: p.read_text() for p in done}
    second = run_sweep(spec, tmp_path, progress=False)
    assert (second.ran, second.skipped) == (1, 1)
    assert {p.name: p.read_text() for p in done} == before       # the finished task was not rerun
    resumed, ref = result_lines(tmp_path), result_lines(reference[0])
    assert len(resumed) == 2 and all(resumed[k] == ref[k] for k in resumed)
    third = run_sweep(spec, tmp_path, progress=False)
    assert (third.ran, third.skipped) == (0, 2)


def test_half_written_record_is_rerun(tmp_path):
    spec = tiny_spec(widths=(6,), seeds=1)
    run_sweep(spec, tmp_path, progress=False)
    path = record_path(tmp_path, spec.tasks()[0].task_id)
    path.write_text(path.read_text()[:100])                  # a torn file (not produced by our atomic writes)
    again = run_sweep(spec, tmp_path, progress=False)
    assert again.ran == 1 and json.loads(path.read_text())["status"] == "ok"


def test_process_pool_gives_the_same_results(reference, tmp_path):
    summary = run_sweep(tiny_spec(widths=(12,)), tmp_path, executor="process", workers=2, progress=False)
    assert (summary.ran, summary.failures) == (2, [])
    pool, ref = result_lines(tmp_path), result_lines(reference[0])
    assert len(pool) == 2 and all(pool[k] == ref[k] for k in pool)


def test_a_raising_task_is_recorded_and_the_sweep_goes_on(tmp_path):
    summary = run_sweep(tiny_spec(widths=(6, -1), seeds=1), tmp_path, progress=False)
    assert summary.ran == 2 and len(summary.failures) == 1
    bad = summary.failures[0]
    assert bad["config"]["width"] == -1 and "negative" in bad["error"]
    assert any("FAILED" in line and bad["task_id"] in line for line in summary.lines())
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(r["status"] for r in rows) == ["error", "ok"]
    report, _ = sweep_report(tmp_path)
    assert not report.ok and [s.status for s in report.sections] == ["ok", "error"]
    assert main(["sweep-report", str(tmp_path)]) == 1
    rerun = run_sweep(tiny_spec(widths=(6, -1), seeds=1), tmp_path, progress=False)
    assert (rerun.ran, rerun.skipped) == (1, 1)                   # failed tasks are retried, finished not


def test_report_fractions_match_the_records(reference):
    out, _ = reference
    report, paths = sweep_report(out)
    assert [p.name for p in paths] == ["sweep_report.md", "sweep_report.html", "sweep_report.json"]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for sec, width in zip(report.sections[:2], (6, 12)):
        assert f"width={width}" in sec.title
        for res in sec.results:
            per_task = [c for r in rows if r["config"]["width"] == width for c in r["claims"] if c["id"] == res.name]
            assert res.measured == pytest.approx(sum(c["passed"] for c in per_task) / len(per_task))
    control = next(r for r in report.sections[0].results if r.name == "ownership:l2:SD")
    assert control.negative_control and control.measured == 0 and control.as_expected
    assert (out / "sweep_SD_own_margin_vs_width.png").stat().st_size > 0
    plot = report.sections[-1]
    assert plot.figures and [row[1] for row in plot.tables[0].rows] == [6, 12]
    means = [float(row[2].split(" +- ")[0]) for row in plot.tables[0].rows]
    assert all(math.isfinite(m) and m > 0 for m in means)
    with pytest.raises(ValueError, match="not in the records; available: .*SD:own_margin"):
        sweep_report(out, figure="SD:own_margn")
