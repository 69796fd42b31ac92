"""Report writing: report.md + report.html exist, PNGs referenced from both, counts and negative controls,
atomic write (no partial file when a suite or a renderer raises), output path that is a file."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from proofs_numeric.checks.registry import Suite, run_suites
from proofs_numeric.checks.result import CheckResult
from proofs_numeric.results import Case, Figure, Table
from proofs_numeric.flow.trajectory import Trajectory
from proofs_numeric.report import check_out_dir, plot_curves, plot_trajectory_margins, render
from proofs_numeric.verify import verify


CASE = Case("Linear", "separable points", 12, 4, None, "l2 steepest flow", "l2", "ConstantStep(0.25)",
            "log10 L = -40 after 300 steps")


def _good(quick, figdir):
    fig = plot_curves({"a": (np.arange(1, 5), np.arange(1, 5) ** 2)}, Path(figdir) / "fake.png", "x", "y",
                      logx=True, logy=True)
    shared = Figure(str(fig), "the fake run of fake-pos and fake-neg")
    return [CheckResult("fake-pos", "identity holds", 1e-16, 1e-13, True, figures=[shared], case=CASE,
                        definition="largest relative identity error"),
            CheckResult("fake-neg", "identity breaks on the control", 0.5, 1e-13, False, negative_control=True,
                        figures=[shared], case=CASE, changed="an offset added to the model")]


def _bad(quick, figdir):
    return [CheckResult("fake-bad", "should pass but does not", 2.0, 1.0, False)]


def _raises(quick, figdir):
    raise RuntimeError("boom")


def _interrupt(quick, figdir):
    raise KeyboardInterrupt


def _kkt(quick, figdir):
    table = Table("propA13-l2: per snapshot", ["log L", "delta", "A.13 bound"], [[-10.0, 0.1, 1.0], [-20.0, 0.05, 0.5]])
    return [CheckResult("thm3.4-l2", "residual -> 0", 0.9, 0.5, True, comparison=">="),
            CheckResult("propA13-l2", "delta <= bound", 0.2, 1.0, True, tables=[table]),
            CheckResult("claim-x", "a paper's empirical claim", 0.59, 1.0, False, comparison=">", informational=True)]


def _reg(**fns):
    return {n: Suite(n, f"Section {n}", fn) for n, fn in fns.items()}


def _run(tmp_path, **fns):
    return verify(tmp_path / "out", quick=True, progress=False, registry=_reg(**fns), with_experiments=False,
                  argv=["test"])


def test_report_files_reference_pngs_and_count_negative_controls(tmp_path):
    report, (md, html, _) = _run(tmp_path, good=_good, kkt=_kkt)
    assert md.exists() and html.exists()
    mdt, htt = md.read_text(), html.read_text()
    for text, pat in ((mdt, r"!\[[^\]]*\]\(([^)]+\.png)\)"), (htt, r"<img src='([^']+\.png)'")):
        refs = re.findall(pat, text)
        assert refs == ["fake.png"]                      # shared by two rows, embedded once
        assert all((md.parent / r).is_file() for r in refs)
    c = report.counts()
    assert report.ok and (c["checks"], c["checks_as_expected"], c["controls"], c["controls_as_expected"]) == (3, 3, 1, 1)
    assert (c["claims"], c["claims_reproduced"]) == (1, 0)
    assert "theorem checks: 3 as expected, 0 not" in mdt and "paper claims: 0 reproduced, 1 NOT reproduced" in mdt
    assert "claim-x: measured 0.59 vs threshold > 1" in mdt and "class=\"notrep\"" in htt
    assert "FAIL (negative control)" in mdt and "an offset added to the model" in mdt
    assert "Linear (d" not in mdt and "- **A**: Linear on separable points, n=12, d=4" in mdt
    assert "the fake run of fake-pos and fake-neg" in mdt and "the fake run of fake-pos and fake-neg" in htt
    assert "A.13 bound" in mdt and "A.13 bound" in htt
    assert "torch" in mdt and "wall_time_s" in htt  # run metadata
    assert not list(md.parent.glob(".*tmp*"))


def test_failing_check_and_raising_suite_make_the_report_not_ok(tmp_path):
    report, (md, _, _) = _run(tmp_path, good=_good, bad=_bad, err=_raises)
    text = md.read_text()
    assert not report.ok and "NOT ALL AS EXPECTED" in text
    assert "RuntimeError: boom" in text and "| fake-bad |" in text


def test_interrupted_run_leaves_no_report(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, good=_good, stop=_interrupt)
    out = tmp_path / "out"
    assert not (out / "report.md").exists() and not (out / "report.html").exists()


def test_renderer_failure_leaves_no_partial_file_and_keeps_old_report(tmp_path, monkeypatch):
    _, (md, html, _) = _run(tmp_path, good=_good)
    old = md.read_text()

    def broken(report, rel):
        raise RuntimeError("renderer crashed")
    monkeypatch.setattr(render, "to_html", broken)
    monkeypatch.setattr("proofs_numeric.report.write.to_html", broken)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        _run(tmp_path, good=_bad)
    assert md.read_text() == old and html.exists()
    assert sorted(p.name for p in md.parent.iterdir() if p.name.startswith(".")) == []


def test_out_dir_that_is_a_file_fails_before_any_suite_runs(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    ran = []
    reg = {"s": Suite("s", "S", lambda q, d: ran.append(1) or [])}
    with pytest.raises(ValueError, match="not a directory"):
        verify(f, registry=reg, with_experiments=False, progress=False)
    with pytest.raises(ValueError, match="is a file"):
        check_out_dir(f / "sub")
    assert ran == []


def test_unavailable_suite_is_reported_not_crashing(tmp_path):
    reg = {"missing": Suite("missing", "Missing", None, available=False, reason="ImportError: no module x")}
    out = run_suites(True, tmp_path, progress=False, suites=reg)
    assert out[0].status == "not available" and "no module x" in out[0].message
    with pytest.raises(ValueError, match="valid names"):
        run_suites(True, tmp_path, progress=False, names=["nope"], suites=reg)


def test_plots_write_pngs(tmp_path):
    n = 30
    s = np.logspace(-1, 3, n)
    m = {k: 1 - 1 / s for k in ("l1", "l2", "linf")}
    tr = Trajectory(norm="l2", loss="exp", degree=1, steps=np.arange(n), s=s, log_t=np.log(s), log_loss=-s,
                    theta_norm=s, margin=m["l2"], soft_margin=m["l2"] - 0.1, margins=m, soft_margins=m, t0_index=3)
    for soft in (False, True):
        p = plot_trajectory_margins({"gd": tr}, tmp_path / f"m{soft}.png", soft=soft)
        assert p.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="at least one trajectory"):
        plot_trajectory_margins({}, tmp_path / "x.png")


def test_unwritable_out_dir_is_a_clear_error(tmp_path, monkeypatch):
    d = tmp_path / "ro"
    d.mkdir()

    def deny(self, *a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(Path, "write_text", deny)
    with pytest.raises(ValueError, match="not writable.*Permission denied"):
        check_out_dir(d)


def test_no_evidence_rows_are_counted_and_decide_the_verdict(tmp_path):
    def empty_ctrl(quick, figdir):
        return [CheckResult("ctrl-empty", "breaks on the control", float("inf"), 1.0, False, negative_control=True)]

    def empty_claim(quick, figdir):
        return [CheckResult("claim-empty", "paper claim", 0.5, 1.0, True, informational=True, evidence=False)]

    report, (md, _, js) = _run(tmp_path, ctrl=empty_ctrl)
    assert not report.ok and report.counts()["controls_as_expected"] == 0
    assert "NO EVIDENCE (negative control)" in md.read_text() and '"verdict": "no evidence"' in js.read_text()
    report, (md, _, _) = _run(tmp_path, good=_good, claim=empty_claim)
    assert report.ok and [r.name for r in report.not_reproduced()] == ["claim-empty"]
    assert "paper claims: 0 reproduced, 1 NOT reproduced" in md.read_text()
