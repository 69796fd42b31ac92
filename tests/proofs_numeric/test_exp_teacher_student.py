"""The teacher_student experiment end to end (tiny: quick mode with 2 seeds) and its claim functions."""
import math
from pathlib import Path

import pytest

from proofs_numeric.experiments import run_experiment
from proofs_numeric.experiments import _ts_report as R


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("ts")
    res = run_experiment("teacher_student", out, seeds=[0, 1], quick=True, progress=False)
    return res, out, None


def test_claims_figures_tables(tiny):
    res, out, _ = tiny
    names = {c.name for c in res.claims}
    for key in ("margin-monotone:GD:l2", "margin-monotone:CD:l1", "margin-monotone:SD:linf", "ownership:l2:GD",
                "ownership:linf:SD", "ownership:l1:CD", "generalization-share:CD>GD", "switch-benefit:GD->CD",
                "switch-not-better:GD->SD", "switch-pales:GD->CD", "kkt-own-norm:GD"):
        assert key in names
    for c in res.claims:
        assert math.isfinite(c.measured), c
    assert all(Path(f).is_file() and Path(f).stat().st_size > 0 for f in res.figures) and len(res.figures) == 2
    assert any("KKT" in k for k in res.tables) and any("ordering" in k for k in res.tables)
    assert len(list((out / "cache").glob("*.json"))) == 2 * 5 + 2 * 3     # + the GD, SD and CD depth continuations
    assert any("continuation" in k for k in res.tables)


def test_negative_controls_fail(tiny):
    res, _, _ = tiny
    neg = [c for c in res.claims if c.negative_control]
    assert len(neg) == 6 and all(not c.passed for c in neg)
    by = {c.name: c for c in res.claims}
    assert by["own-margin-at-depth"].passed and by["own-margin-at-depth"].detail["seeds"] == 2
    assert by["ownership:l2:GD"].passed and by["ownership:linf:SD"].passed
    assert by["margin-monotone:GD:l2"].passed and by["margin-monotone:SD:linf"].passed


def test_cache_reuse_identical_without_training(tiny, monkeypatch):
    res, out, _ = tiny
    from proofs_numeric.experiments import teacher_student as ts

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run was trained again")
    monkeypatch.setattr(ts, "train_group", no_training)
    again = run_experiment("teacher_student", out, seeds=[0, 1], quick=True, progress=False)
    assert [(c.name, c.measured, c.passed) for c in again.claims] == [(c.name, c.measured, c.passed) for c in res.claims]
    assert again.tables == res.tables


def test_cache_is_keyed_by_code_version(tiny, monkeypatch):
    """Bumping CACHE_VERSION invalidates every cached run (all of them are trained again)."""
    from proofs_numeric.experiments import teacher_student as ts
    _, out, _ = tiny
    import json
    stored = [json.loads(p.read_text()) for p in (out / "cache").glob("*.json")]
    assert stored and all(r["key"]["_cache_version"] == ts.CACHE_VERSION for r in stored)
    trained = []
    monkeypatch.setattr(ts, "CACHE_VERSION", ts.CACHE_VERSION + 1)
    monkeypatch.setattr(ts, "train_group", lambda todo, C, progress, device=None: trained.extend(todo) or [])
    with pytest.raises(KeyError):   # the stub trains nothing, so the lookup of the new keys fails
        ts.load_or_train(out / "cache", ts.QUICK, [0, 1], progress=False)
    assert len(trained) == 5 * 2


def test_monotone_claim_detects_a_decrease():
    r = {"algo": "GD", "switch": None, "fit_step": 0, "log_loss": [-1.0, -2.0, -3.0], "drop_steps": 2,
         "worst_drop": {"l2": 0.1 / 1.1}}
    assert math.isclose(R.worst_decrease(r, "l2"), 0.1 / 1.1)
    assert not R.monotone_claim([r], "GD", "l2").passed
    r["worst_drop"]["l2"] = 0.0
    assert R.monotone_claim([r], "GD", "l2").passed
    runs = [dict(r, worst_drop={"l2": d}) for d in (0.0, 0.0, 0.0, 0.0, 0.5)]   # 4/5 runs within: >= 0.8
    assert R.monotone_claim(runs, "GD", "l2").passed and R.monotone_claim(runs, "GD", "l2").measured == 0.8
    assert not R.monotone_claim(runs + [runs[-1]], "GD", "l2").passed          # 4/6 < 0.8
    r["worst_drop"]["l2"] = math.nan                 # never two steps with L < 1: no evidence, never a pass
    assert not R.monotone_claim([r], "GD", "l2").passed


def _acc_runs(acc: dict) -> list:
    """Runs of one init scale: acc maps a label to its per-seed test accuracies."""
    return [{"alpha": 0.1, "seed": s, "algo": lab.split("->")[0], "switch": (lab.split("->") + [None])[1],
             "test_acc": a} for lab, accs in acc.items() for s, a in enumerate(accs)]


def test_generalization_share_and_switch_signs():
    from proofs_numeric.experiments import _ts_generalization as G
    runs = _acc_runs({"CD": [0.85, 0.7, 0.82, 0.7], "GD": [0.81, 0.7, 0.7, 0.7], "SD": [0.7, 0.7, 0.7, 0.7],
                      "GD->CD": [0.80, 0.69, 0.69, 0.69], "GD->SD": [0.80, 0.70, 0.70, 0.70]})
    by = {c.name: c for c in G.claims(runs)}
    assert by["generalization-share:CD>GD"].passed and math.isclose(by["generalization-share:CD>GD"].measured, 0.25)
    assert by["generalization-share:GD>SD"].passed and not by["generalization-share:SD>CD"].passed
    sw = by["switch-benefit:GD->CD"]          # every switched run is 0.01 worse: the sign is the claim
    assert not sw.passed and math.isclose(sw.measured, -0.01)
    assert by["switch-not-better:GD->SD"].passed and by["switch-pales:GD->CD"].passed
    better = _acc_runs({"GD": [0.7, 0.7, 0.7], "GD->SD": [0.8, 0.81, 0.82]})
    assert not {c.name: c for c in G.switch_claims(better)}["switch-not-better:GD->SD"].passed


def test_unknown_experiment_and_config():
    with pytest.raises(ValueError, match="unknown experiment 'teacher-student'.*teacher_student"):
        run_experiment("teacher-student", "/tmp/unused-ts")
    from proofs_numeric.experiments.teacher_student import run
    with pytest.raises(ValueError, match="unknown config keys"):
        run("/tmp/unused-ts", quick=True, config={"width ": 3})


def test_own_margin_at_depth_needs_all_three_runs_at_depth_and_can_fail():
    from proofs_numeric.experiments import _ts_depth as D

    def run(l1, l2, linf, status="success"):
        return {"status": status, "margins": {"l1": l1, "l2": l2, "linf": linf}}
    good = {(0, "GD"): run(3e-4, 0.27, 6.5), (0, "SD"): run(4e-5, 0.10, 188.0), (0, "CD"): run(7e-3, 0.14, 0.37)}
    assert D.own_margin_at_depth(good).passed and not D.own_margin_at_depth(good, negative=True).passed
    cd_loses_l1 = {**good, (0, "CD"): run(1e-4, 0.14, 0.37)}
    assert not D.own_margin_at_depth(cd_loses_l1).passed
    short = {**good, (0, "CD"): run(7e-3, 0.14, 0.37, status="max_seconds")}
    r = D.own_margin_at_depth(short)
    assert not r.has_evidence and not r.passed


@pytest.mark.slow
def test_coordinate_descent_at_depth_is_closest_to_kkt_in_l1(tiny):
    """The full run's kkt-own-norm-at-depth rows, on the tiny run's cached CD continuation (seed 0, log10 L =
    -1e4): the l1 KKT measure is below the l2 and linf ones (claim passes), and crediting CD with l2 instead (the
    control: own / smallest other with own = l2) gives a ratio above 1."""
    import torch
    from proofs_numeric.experiments import _ts_depth as D
    from proofs_numeric.experiments import teacher_student as ts
    from proofs_numeric.experiments.cache import RunCache
    _, out, _ = tiny
    C = dict(ts.QUICK)
    cache = RunCache(out / "cache", "teacher_student", ts.CACHE_VERSION)
    runs = ts.load_or_train(cache, C, [0, 1], False, torch.device("cpu"))
    deep = D.depth_runs(runs, C, cache, 2)                     # cached by the fixture's run: no integration
    cd = [r for r in D.as_runs(deep, C) if r["algo"] == "CD" and r["seed"] == 0]
    claims, rows = R.kkt(cd, C, 1, tag="-at-depth")
    assert [c.name for c in claims] == ["kkt-own-norm-at-depth:CD"] and not claims[0].informational
    assert claims[0].passed and claims[0].measured < 1.0
    measures = {p: float(rows[0][p].split()[0]) for p in ("l1", "l2", "linf")}
    assert measures["l2"] / min(measures["l1"], measures["linf"]) > 1.0
