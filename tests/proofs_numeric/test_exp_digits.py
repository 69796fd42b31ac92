"""Small versions of the digits experiments (Adam vs SD; Shampoo/spectral margin: test_shampoo_spectral.py): claims with their negative
controls in the result, --seeds honoured and aggregated, the shared cache keyed by code version."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import kktcheck as kc
from proofs_numeric.experiments import adam_vs_sign as AV
from proofs_numeric.experiments._digits_common import kkt_rows
from proofs_numeric.experiments.cache import CacheWarning, RunCache
from proofs_numeric.experiments.digits_training import Run

STEPS_AV, SEEDS = 600, [0, 1]


@pytest.fixture(scope="module")
def av(tmp_path_factory):
    out = tmp_path_factory.mktemp("av")
    res = AV.run(out, pairs=[(3, 6)], steps=STEPS_AV, seeds=SEEDS, kkt=False, progress=False)
    cache = RunCache(out / "cache", "adam_vs_sign", AV.CACHE_VERSION)
    ds, model, runs = AV._pair_runs((3, 6), STEPS_AV, 0, False, cache)  # from the cache
    assert (cache.hits, cache.misses) == (len(AV.ALGOS), 0)
    return res, ds, model, runs, out


def test_adam_vs_sign_result_shape_and_seeds(av):
    res, _, _, runs, out = av
    assert res.seeds == SEEDS
    assert len(res.claims) == 16 and sum(c.negative_control for c in res.claims) == 7
    assert sum(c.informational for c in res.claims) == 7      # eps ordering (3 + 3 controls), Adam beta1=0
    assert "Finding (3 vs 6) (beta2 memory vs eps)" in res.summary
    assert all(c.detail["seeds"] == SEEDS and c.detail["n"] == 2 and len(c.detail["per_seed"]) == 2
               for c in res.claims)
    assert all(c.measured in (0.0, 0.5, 1.0) for c in res.claims)   # fractions of 2 seeds
    assert res.figures and all(Path(f).suffix == ".png" and Path(f).stat().st_size > 0 for f in res.figures)
    assert any("mean +- SE over seeds [0, 1]" in k for k in res.tables)
    assert len(list((out / "cache").glob("*.json"))) == len(AV.ALGOS) * len(SEEDS)
    assert set(runs) == set(AV.ALGOS)
    assert f"0 of {len(AV.ALGOS) * 2} runs reused" in res.claims[0].case.reached


def test_seeds_draw_their_own_subsample_and_init(av):
    _, ds0, _, runs0, out = av
    ds1, _, runs1 = AV._pair_runs((3, 6), STEPS_AV, 1, False, out / "cache")
    assert not bool((ds0.train[0] == ds1.train[0]).all())
    assert not np.allclose(runs0["GD"].log_loss, runs1["GD"].log_loss)


def test_recorded_margins_match_kc_margin(av):
    _, ds, model, runs, _ = av
    for name in ("GD", "Adam eps=1e-8"):
        r = runs[name]
        for nm in ("l2", "linf"):
            ref = kc.margin(r.params, ds.train, model=model, norm=nm)
            assert math.isclose(r.margins[nm][-1], ref, rel_tol=1e-9)  # json round trip of float64 is exact-ish


def test_adam_claims_pass_and_controls_fail_in_the_report(av):
    res = av[0]
    by = {c.name: c for c in res.claims}
    for name in ("adam-sd-phase (3 vs 6):Adam eps=1e-8", "adam-sd-phase (3 vs 6):Adam beta1=0",
                 "adam-second-phase (3 vs 6):Adam eps=1e-8", "own-margin-largest (3 vs 6)"):
        assert by[name].passed and by[name].measured == 1.0, by[name]
    controls = [c for c in res.claims if c.negative_control and not c.informational]
    assert {c.name for c in controls} == {"adam-gd-phase (3 vs 6):Adam eps=1e-8", "adam-gd-phase (3 vs 6):Adam beta1=0",
                                          "adam-second-phase (3 vs 6):SD", "own-margin-largest-control (3 vs 6)"}
    for c in controls:
        assert c.as_expected and not c.passed and c.measured == 0.0 and c.changed, c


def test_second_phase_control_is_sd(av):
    _, _, _, runs, _ = av
    pos = AV.second_phase(runs["Adam eps=1e-8"])
    assert pos.passed and 0 < pos.detail["onset_loss"] < math.log(2)
    for control in ("SD", "GD"):    # their l_inf margin peaks at the end: no phase 2
        assert not AV.second_phase(runs[control], control=True).passed


def test_swapped_phase_reference_is_one_minus_s(av):
    _, _, _, runs, _ = av
    pos = AV.sd_like_phase(runs["Adam eps=1e-8"], runs["SD"], runs["GD"])
    neg = AV.sd_like_phase(runs["Adam eps=1e-8"], runs["SD"], runs["GD"], like="GD")
    assert pos.passed and not neg.passed and neg.negative_control
    assert math.isclose(neg.measured, 1.0 - pos.measured, rel_tol=1e-12)


def test_corrupt_digits_cache_entry_is_recomputed(tmp_path):
    cache = RunCache(tmp_path, "adam_vs_sign", AV.CACHE_VERSION)
    _, _, runs = AV._pair_runs((3, 6), 15, 0, False, cache)
    cfg = dict(pair=[3, 6], algo="GD", steps=15, seed=0, init=1e-2, width=100)
    path = cache.path(cfg)
    entry = json.loads(path.read_text())
    entry["payload"]["name"] = "SD"                       # valid JSON, wrong content
    path.write_text(json.dumps(entry))
    again = RunCache(tmp_path, "adam_vs_sign", AV.CACHE_VERSION)
    with pytest.warns(CacheWarning, match=str(path.name)):
        _, _, runs2 = AV._pair_runs((3, 6), 15, 0, False, again)
    assert again.misses == 1 and again.hits == len(AV.ALGOS) - 1
    assert np.array_equal(runs2["GD"].log_loss, runs["GD"].log_loss)
    assert json.loads(path.read_text())["payload"]["name"] == "GD"   # rewritten


def test_experiment_report_metadata_lists_the_seeds(av, monkeypatch):
    from proofs_numeric.experiments import base
    from proofs_numeric.verify import experiment_report
    _, _, _, _, out = av
    small = base.Experiment("adam_vs_sign", lambda o, **kw: AV.run(o, pairs=[(3, 6)], steps=STEPS_AV, kkt=False,
                                                                   **kw))
    monkeypatch.setitem(base.EXPERIMENTS, "adam_vs_sign", small)
    report, _ = experiment_report("adam_vs_sign", out, seeds=SEEDS, progress=False)
    assert report.metadata["seeds"] == "[0, 1]"
    assert "12 of 12 runs reused" in report.sections[0].text


def test_kkt_rows_in_own_and_other_norm(av):
    _, ds, model, runs, _ = av
    rows = kkt_rows({"GD": runs["GD"]}, model, ds.train, ("l2", "linf"))
    assert "KKT" in rows[0]["l2: verdict"] and "KKT" in rows[0]["linf: verdict"]
    # GD's iterate is closer to an l2-KKT point than to an l_inf one (the theory: small residual only in its own norm)
    assert float(rows[0]["l2: KKT measure"]) < float(rows[0]["linf: KKT measure"])


def test_bad_algorithm_name():
    with pytest.raises(ValueError, match="valid"):
        AV.make_optimizer("Lion")


def test_seed_aggregation_fraction_se_and_wilson():
    from proofs_numeric.experiments._seeds import aggregate, wilson
    from proofs_numeric.results import CheckResult
    z2 = 1.96 ** 2
    assert wilson(0, 2) == (0.0, pytest.approx(z2 / (2 + z2)))          # closed forms at k = 0 and k = n
    assert wilson(1, 1) == (pytest.approx(1 / (1 + z2)), 1.0)
    rows = [CheckResult("c", "claim", v, 0.5, v >= 0.5, ">=", definition="stat") for v in (0.2, 0.6, 0.7)]
    agg = aggregate(rows, [4, 5, 6])
    assert agg.measured == pytest.approx(2 / 3) and not agg.passed      # 2/3 < 0.8
    assert agg.detail["seeds"] == [4, 5, 6] and agg.detail["mean"] == pytest.approx(0.5)
    assert agg.detail["se"] == pytest.approx(float(np.std([0.2, 0.6, 0.7], ddof=1)) / math.sqrt(3))
    assert "2/3 seeds" in agg.claim and "0.8" in agg.definition


def _phase_run(peak_step: int, peak: float, g2_end: float, name="fake"):
    """A fake run: 5 records, gamma_inf peaks (height ``peak``) at ``peak_step``, gamma_2 rises to g2_end after."""
    steps = np.array([0, 10, 100, 1000, 10000])
    k = int(np.flatnonzero(steps == peak_step)[0])
    linf = np.ones(steps.size)
    linf[k] = peak
    g2 = np.where(steps <= peak_step, 0.01, 0.01 + (g2_end - 0.01) * (steps > peak_step))
    return Run(name, steps, -np.log1p(steps.astype(float)), np.r_[0.5, np.ones(4)], {"l2": g2, "linf": linf}, [])


def test_eps_ordering_claims_and_exchanged_controls():
    from proofs_numeric.experiments import _adam_eps as E
    runs = {E.LARGE: _phase_run(1000, 40.0, 0.05), E.SMALL: _phase_run(100, 30.0, 0.02)}
    for key in E.STATS:
        pos, neg = E.eps_claim(runs, key), E.eps_claim(runs, key, control=True)
        assert pos.passed and pos.informational and not neg.passed and neg.negative_control, key
        assert math.isclose(neg.measured, 1.0 / pos.measured)
    runs[E.LARGE] = _phase_run(10, 20.0, 0.011)    # lower, earlier, weaker: every claim fails
    assert not any(E.eps_claim(runs, key).passed for key in E.STATS)


def test_tracking_step_finds_where_eps_starts_to_matter():
    from proofs_numeric.experiments import _adam_eps as E
    a, b = _phase_run(100, 30.0, 0.02), _phase_run(100, 30.0, 0.02)
    step, loss = E.tracking_step(a, b)
    assert step == 10000 and math.isnan(loss)      # identical runs never part
    b.margins = dict(b.margins, l2=b.margins["l2"].copy())
    b.margins["l2"][3:] *= 1.01
    assert E.tracking_step(a, b)[0] == 1000 and E.tracking_step(a, b, "linf")[0] == 10000
