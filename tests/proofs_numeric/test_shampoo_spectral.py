"""shampoo_spectral (paper Fig. 3): the quick run's claims with their controls, the selection rule, depth, the
trend statistic, the spectral KKT table's "no evidence" rows and the run cache."""
import math
import types
from pathlib import Path

import numpy as np
import pytest

from proofs_numeric.experiments import _shampoo_sweep as SW
from proofs_numeric.experiments import shampoo_spectral as SS
from proofs_numeric.experiments.digits_training import Run

pytestmark = pytest.mark.usefixtures("one_thread")
TAG = " (3 vs 6)"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("ss")
    return SS.run(out, quick=True, kkt=False, progress=False), out


def _fake(g, log_loss=None, acc=None, name="fake"):
    g = np.asarray(g, dtype=float)
    ll = np.asarray(log_loss if log_loss is not None else -np.arange(g.size, dtype=float))
    acc = np.asarray(acc if acc is not None else np.r_[0.5, np.ones(g.size - 1)])
    return Run(name, np.arange(g.size), ll, acc, {"spectral": g, "l2": g / 2, "linf": g * 3}, [])


def test_quick_claims_controls_and_roles(quick):
    res, _ = quick
    assert res.figures and Path(res.figures[0]).is_file() and res.seeds == [0]
    by = {c.name: c for c in res.claims}
    sd = by[f"spectral-largest{TAG}:Spectral descent"]
    assert sd.passed and not sd.informational, sd
    assert by[f"spectral-largest{TAG}:{SS.TUNED}"].informational          # the paper's optimizer: a claim
    for name in (f"spectral-largest-control{TAG}:Spectral descent", f"spectral-largest-control{TAG}:{SS.TUNED}",
                 f"spectral-trend-control{TAG}:Shampoo lr=10"):
        assert by[name].negative_control and by[name].has_evidence and not by[name].passed and by[name].changed
    assert by[f"spectral-trend{TAG}:Spectral descent"].passed
    assert all(c.as_expected for c in res.claims if not c.informational)


def test_quick_tables_say_selection_and_depth(quick):
    res, _ = quick
    sweep = next(v for k, v in res.tables.items() if "sweep" in k)
    assert "in-sample" in next(k for k in res.tables if "sweep" in k)
    assert [r["config (lr, eps, update_freq)"].endswith("<- selected") for r in sweep].count(True) == 1
    depth = next(v for k, v in res.tables.items() if k.startswith("runs at depth"))
    assert all(r["reached L*"] == "1/1" for r in depth)
    tuned = {c.name: c for c in res.claims}[f"spectral-largest{TAG}:{SS.TUNED}"]
    assert ("NOT reproduced" in res.summary) == (not tuned.passed)


def test_runs_stop_at_the_depth_level(quick):
    _, out = quick
    from proofs_numeric.experiments.cache import RunCache
    cache = RunCache(out / "cache", "shampoo_spectral", SS.CACHE_VERSION)
    _, _, runs = SS._runs((3, 6), 3000, SS.DEPTH_QUICK, 0, SS.BASE, cache, False)
    assert cache.misses == 0
    for r in runs.values():
        assert r.status == "stopped" and r.log_loss[-1] < math.log(SS.DEPTH_QUICK) <= r.log_loss[-2]


def test_selection_rule():
    a, b, c = SW.ShampooConfig(1.0), SW.ShampooConfig(3.0), SW.ShampooConfig(10.0)
    assert SW.select({a: [0.1, 0.12], b: [0.14, 0.15], c: [0.3, math.nan]}) == b   # c missed L* in one seed
    assert SW.select({a: [0.1, 0.2], c: [0.3, 0.31]}) == c
    assert SW.select({a: [math.nan], c: []}) is None
    assert SW.fmt_finite_n([0.1, math.nan, 0.3]).endswith("(n=2 of 3)")     # a missed L* is counted, not hidden
    assert "(n=" not in SW.fmt_finite_n([0.1, 0.3])


def test_largest_margin_needs_depth_and_a_selection():
    level = math.log(1e-3)
    deep = _fake([0.1, 0.2, 0.3], [-1, -5, -8])
    shallow = _fake([0.1, 0.2, 0.9], [-1, -2, -3])                    # never reaches log L = -6.9
    runs = {"GD": deep, "Adam": deep, "X": _fake([0.1, 0.3, 0.5], [-1, -5, -8])}
    assert SS.largest_margin(runs, "X", level).passed                  # 0.5 / 0.3 at the first record below L*
    assert SS.largest_margin({**runs, "X": shallow}, "X", level).verdict == "no evidence"
    none = SS.largest_margin(runs, SS.TUNED, level)                    # no configuration was selected
    assert none.verdict == "no evidence" and "no configuration" in none.detail["note"]
    assert SS.trend(None, label=SS.TUNED).verdict == "no evidence"


def test_trend_statistic_sees_a_late_fall():
    """end > value at fitting passes this margin; the concordance (mostly falling) does not."""
    g = np.array([-0.1, 0.10, 0.30, 0.29, 0.27, 0.25, 0.22, 0.20, 0.15])
    r = _fake(g)
    assert g[-1] > g[1]
    t = SS.trend(r)
    assert not t.passed and math.isclose(t.measured, 7 / 28)
    r.margins["spectral"] = np.r_[-0.1, np.linspace(0.1, 0.3, 8)]
    assert SS.trend(r).passed and SS.trend(r).measured == 1.0
    never = _fake(np.ones(3), acc=[0.5, 0.9, 0.9])
    assert SS.trend(never).verdict == "no evidence"


def _fake_result(**kw):
    base = dict(status="optimal", measure_source="program", message="", measure=0.5, measure_bound=0.9,
                measure_lower=float("nan"))
    base.update(kw)
    res = types.SimpleNamespace(**base)
    res.verdict = lambda tol: f"not KKT: measure {res.measure:.3g} > tol {tol:.3g}"
    return res


@pytest.mark.parametrize("status", ["too_large", "time_limit", "solver_error"])
def test_spectral_kkt_refusal_is_no_evidence_never_a_pass(monkeypatch, status):
    import kktcheck as kc
    # a refused program with a small closed-form bound still reads "no evidence", with the reason
    monkeypatch.setattr(kc, "residual", lambda *a, **k: _fake_result(status=status, measure_source="a13-bound",
                                                                     message="why", measure=1e-3, measure_bound=1e-3))
    row = SW.spectral_kkt_rows({"GD": _fake([0.1, 0.2])}, None, None, 1.0)[0]
    assert row["spectral KKT measure"] == "no evidence" and row["verdict"].startswith(f"no evidence ({status}): why")


def test_spectral_kkt_solved_and_raising(monkeypatch):
    import kktcheck as kc
    monkeypatch.setattr(kc, "residual", lambda *a, **k: _fake_result())
    row = SW.spectral_kkt_rows({"GD": _fake([0.1, 0.2])}, None, None, 1.0)[0]
    assert row["spectral KKT measure"] == "0.5" and row["verdict"].startswith("not KKT")

    def boom(*a, **k):
        raise ValueError("not separated")
    monkeypatch.setattr(kc, "residual", boom)
    row = SW.spectral_kkt_rows({"GD": _fake([0.1, 0.2])}, None, None, 1.0)[0]
    assert row["verdict"] == "no evidence: ValueError: not separated"


def test_spectral_kkt_certified_interval_gives_its_verdict(monkeypatch):
    """The first-order spectral path: status "approximate" with a certified interval shows the interval and the
    verdict the interval decides (here lower 0.08 > tol 1e-2: not KKT); without a lower bound: no evidence."""
    import kktcheck as kc
    monkeypatch.setattr(kc, "residual", lambda *a, **k: _fake_result(status="approximate", measure_source="first-order",
                                                                     measure=0.13, measure_lower=0.08))
    row = SW.spectral_kkt_rows({"SD": _fake([0.1, 0.2])}, None, None, 1.0)[0]
    assert row["spectral KKT measure"] == "[0.08, 0.13] (certified)" and row["verdict"].startswith("not KKT")
    monkeypatch.setattr(kc, "residual", lambda *a, **k: _fake_result(status="approximate", measure_source="first-order",
                                                                     measure=0.13))
    row = SW.spectral_kkt_rows({"SD": _fake([0.1, 0.2])}, None, None, 1.0)[0]
    assert row["spectral KKT measure"] == "no evidence" and row["verdict"].startswith("no evidence (approximate)")


def test_code_version_change_retrains(tmp_path, monkeypatch):
    def go():
        return SS.run(tmp_path, quick=True, steps=20, kkt=False, progress=False)
    first = go().summary
    assert "runs reused" in first and " 0 trained" not in first
    assert " 0 trained" in go().summary
    monkeypatch.setattr(SS, "CACHE_VERSION", SS.CACHE_VERSION + 1)     # a code change bumps the version
    assert " 0 trained" not in go().summary


def test_bad_input():
    with pytest.raises(ValueError, match="valid"):
        SS.make_optimizer("Lion")
    with pytest.raises(ValueError, match="depth"):
        SS.run(None, depth=1.0)
