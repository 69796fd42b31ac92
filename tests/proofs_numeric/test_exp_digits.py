"""Small versions of the digits experiments (Adam vs SD, Shampoo/spectral margin) with negative controls."""
import math
from pathlib import Path

import numpy as np
import pytest

import kktcheck as kc
from proofs_numeric.experiments import adam_vs_sign as AV
from proofs_numeric.experiments import shampoo_spectral as SS
from proofs_numeric.experiments._digits_common import kkt_rows
from proofs_numeric.experiments.digits_training import Run

STEPS_AV, STEPS_SS = 600, 500


@pytest.fixture(scope="module")
def av(tmp_path_factory):
    out = tmp_path_factory.mktemp("av")
    res = AV.run(out, pairs=[(3, 6)], steps=STEPS_AV, kkt=False, progress=False)
    ds, model, runs = AV._pair_runs((3, 6), STEPS_AV, 0, False, out / "cache")  # from the cache
    return res, ds, model, runs, out


@pytest.fixture(scope="module")
def ss(tmp_path_factory):
    out = tmp_path_factory.mktemp("ss")
    return SS.run(out, steps=STEPS_SS, kkt=False, progress=False), out


def test_adam_vs_sign_result_shape(av):
    res, _, _, runs, out = av
    assert len(res.claims) == 5 and all(hasattr(c, "passed") for c in res.claims)
    assert res.figures and all(Path(f).suffix == ".png" and Path(f).stat().st_size > 0 for f in res.figures)
    assert any("margins" in k for k in res.tables)
    assert len(list((out / "cache").glob("*.json"))) == len(AV.ALGOS)
    assert set(runs) == set(AV.ALGOS)


def test_recorded_margins_match_kc_margin(av):
    _, ds, model, runs, _ = av
    for name in ("GD", "Adam eps=1e-8"):
        r = runs[name]
        for nm in ("l2", "linf"):
            ref = kc.margin(r.params, ds.train, model=model, norm=nm)
            assert math.isclose(r.margins[nm][-1], ref, rel_tol=1e-9)  # json round trip of float64 is exact-ish


def test_adam_first_like_sd_and_gd_control(av):
    _, _, _, runs, _ = av
    pos = AV.sd_like_phase(runs["Adam eps=1e-8"], runs["SD"], runs["GD"])
    assert pos.passed, pos
    neg = AV.sd_like_phase(runs["GD"], runs["SD"], runs["GD"])   # GD in Adam's place: s = 0
    assert not neg.passed and neg.measured < AV.PHASE_THRESHOLD


def test_second_phase_and_controls(av):
    _, _, _, runs, _ = av
    pos = AV.second_phase(runs["Adam eps=1e-8"])
    assert pos.passed, pos
    assert 0 < pos.detail["onset_loss"] < math.log(2)
    for control in ("SD", "GD"):    # their l_inf margin peaks at the end: no phase 2
        assert not AV.second_phase(runs[control]).passed


def test_own_margin_largest_and_swapped_control(av):
    _, _, _, runs, _ = av
    assert AV.own_margin_largest(runs).passed
    assert not AV.own_margin_largest(runs, l2_winner="SD", linf_winner="GD").passed


def test_shampoo_spectral_claims_and_controls(ss):
    res, out = ss
    assert res.figures and Path(res.figures[0]).is_file()
    claims = {c.name: c for c in res.claims}
    sd = next(c for n, c in claims.items() if n.startswith("spectral-largest") and "Spectral descent" in n)
    assert sd.passed, sd
    ends = sd.detail["final_spectral_margins"]
    fake = {n: Run(n, np.array([0, 1]), np.zeros(2), np.ones(2), {"spectral": np.array([0.0, v])}, [])
            for n, v in ends.items()}
    assert not SS.largest_spectral(fake, "GD", rivals=("Adam", "Spectral descent")).passed   # wrong winner
    for n in SS.ALGOS:
        assert claims[f"spectral-increases (3 vs 6):{n}"].passed


def test_increases_after_fit_control():
    r = Run("fake", np.arange(3), np.zeros(3), np.array([0.5, 1.0, 1.0]),
            {"spectral": np.array([-0.1, 0.2, 0.1])}, [])
    assert not SS.increases_after_fit(r).passed
    r.margins["spectral"] = np.array([-0.1, 0.1, 0.2])
    assert SS.increases_after_fit(r).passed


def test_kkt_rows_in_own_and_other_norm(av):
    _, ds, model, runs, _ = av
    rows = kkt_rows({"GD": runs["GD"]}, model, ds.train, ("l2", "linf"))
    assert "KKT" in rows[0]["l2: verdict"] and "KKT" in rows[0]["linf: verdict"]
    # GD's iterate is closer to an l2-KKT point than to an l_inf one (the theory: small residual only in its own norm)
    assert float(rows[0]["l2: KKT measure"]) < float(rows[0]["linf: KKT measure"])


def test_bad_algorithm_name():
    with pytest.raises(ValueError, match="valid"):
        AV.make_optimizer("Lion")
    with pytest.raises(ValueError, match="valid"):
        SS.make_optimizer("Lion")
