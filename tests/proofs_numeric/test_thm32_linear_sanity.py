"""Thm 3.2 (normalized steepest descent with a schedule) and the linear sanity rows (Adam eps = 0 -> l_inf,
momentum GD -> l2 max-margin): the batched loops are the package's optimizers step for step, the positive checks
pass and their controls (constant / summable step; the other norm's max-margin) fail, and no data means no verdict."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import proofs_numeric.optim as O
from proofs_numeric.checks import linear_sanity_checks as LS
from proofs_numeric.checks import schedule_checks as SC

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_batched_schedule_loop_is_normalized_steepest_descent(norm):
    """Ten steps of ``batched_runs`` equal ten steps of NormalizedSteepestDescent on the exp loss (autograd)."""
    model, th0, (X, y) = SC.schedule_case(0)
    sched = O.power(SC.ETA0, SC.EXPONENT)
    snaps = SC.batched_runs([(th0, (X, y))], [norm], [sched], 10, [10])
    ps = [p.clone().requires_grad_(True) for p in th0]
    opt = O.NormalizedSteepestDescent(ps, 1.0, norm=norm, schedule=sched)
    for _ in range(10):
        opt.zero_grad()
        torch.logsumexp(-y * model.apply_params(ps, X), 0).backward()
        opt.step()
    for got, want in zip(snaps[10][0], ps):
        assert torch.allclose(got, want.detach(), rtol=1e-12, atol=1e-12)


def test_linear_loop_is_the_package_adam_and_momentum_gd():
    """30 steps of ``run_linear`` equal pn.optim.Adam(eps=0) / MomentumGD on the mean logistic loss."""
    _, A, _, _ = LS.sanity_cases()[0]
    ws = LS.run_linear([A, A], ["Adam", "MomentumGD"], 30, [30])[30]
    At = torch.as_tensor(A)
    makers = {"Adam": lambda p: O.Adam(p, 1.0, betas=LS.BETAS, eps=0.0, schedule=O.power(LS.ETA0, LS.EXPONENT)),
              "MomentumGD": lambda p: O.MomentumGD(p, 1.0, beta=LS.BETA, schedule=O.power(LS.ETA0, LS.EXPONENT))}
    for b, algo in enumerate(("Adam", "MomentumGD")):
        w = torch.zeros(A.shape[1], dtype=F64, requires_grad=True)
        opt = makers[algo]([w])
        for _ in range(30):
            opt.zero_grad()
            torch.nn.functional.softplus(-(At @ w)).mean().backward()
            opt.step()
        np.testing.assert_allclose(ws[b], w.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def thm32_rows():
    kw = dict(steps=4000, seeds=(0, 1))
    return {"kkt-linf": SC.check_thm32_kkt("linf", **kw),
            "kkt-linf-const": SC.check_thm32_kkt("linf", schedule="constant", **kw),
            "margin-linf": SC.check_thm32_margin("linf", **kw),
            "margin-linf-const": SC.check_thm32_margin("linf", schedule="constant", **kw),
            "kkt-l2": SC.check_thm32_kkt("l2", **kw),
            "kkt-l2-summable": SC.check_thm32_kkt("l2", schedule="summable", **kw)}


def test_thm32_schedule_passes_and_violating_schedules_fail(thm32_rows):
    for key in ("kkt-linf", "margin-linf", "kkt-l2"):
        r = thm32_rows[key]
        assert r.passed and not r.negative_control and r.has_evidence, (key, r.measured)
    for key in ("kkt-linf-const", "margin-linf-const", "kkt-l2-summable"):
        r = thm32_rows[key]
        assert r.negative_control and r.has_evidence and not r.passed, (key, r.measured)
        assert r.as_expected
    # the recorded measures are kc.residual's, on the window T/16..T
    assert thm32_rows["kkt-linf"].detail["steps"] == [250, 500, 1000, 2000, 4000]
    m = thm32_rows["kkt-linf"].detail["measures"]["0"]
    assert math.isclose(thm32_rows["kkt-linf"].measured, np.median([v[-1] / v[0] for v in
                                                              thm32_rows["kkt-linf"].detail["measures"].values()]))
    assert all(0.0 < v < 1.0 for v in m)


def test_thm32_no_evidence_when_the_window_is_not_separated(monkeypatch):
    """A student started with the output weights negated (every label wrong) is not separated at t = T/16 = 1:
    the checks report no evidence, never a pass."""
    import kktcheck as kc
    real = SC.schedule_case

    def flipped(seed):
        model, (W, a), data = real(seed)
        return model, [W, -a], data

    monkeypatch.setattr(SC, "schedule_case", flipped)
    SC.schedule_runs.cache_clear()
    try:
        model, th0, data = flipped(0)
        assert kc.margin(th0, data, model=model, norm="linf") < 0       # the premise of this test
        rows = (SC.check_thm32_margin("linf", steps=16, seeds=(0,)), SC.check_thm32_kkt("linf", steps=16, seeds=(0,)))
        for r in rows:
            assert not r.has_evidence and r.verdict == "no evidence" and not r.passed
    finally:
        SC.schedule_runs.cache_clear()


@pytest.fixture(scope="module")
def linear_rows():
    return {(algo, mn): LS.check_linear_limit(algo, measure_norm=mn, steps=20_000)
            for algo in ("Adam", "MomentumGD") for mn in ("l2", "linf")}


def test_linear_sanity_own_norm_gap_shrinks_other_norm_does_not(linear_rows):
    for algo, own in LS.OWN.items():
        pos, ctl = linear_rows[(algo, own)], linear_rows[(algo, LS.OTHER[own])]
        assert pos.passed and pos.measured <= LS.MAX_SLOPE and not pos.negative_control
        assert ctl.negative_control and not ctl.passed and ctl.has_evidence
        for seed, r in pos.detail["per_seed"].items():
            assert r["end_gap"] < r["end_gap_other"]
            assert r["gaps_at"][10_000][own] < r["gaps_at"][1000][own]     # shrinking from 1e3 to 1e4 steps
        for r in ctl.detail["per_seed"].values():   # the other norm's gap stays above its positive limit
            assert r["predicted_limit"] >= 1.0 - LS.CROSS_MAX and r["end_gap"] > 0.5 * r["predicted_limit"]


def test_sanity_cases_refuse_data_whose_directions_agree():
    """Seed 1: the l2 and l_inf max-margin directions coincide; the control could not fail there."""
    with pytest.raises(ValueError, match="seeds"):
        LS.sanity_cases((1,))


def test_trend_slope_needs_positive_gaps():
    ts = np.array([100.0, 1000.0, 10_000.0])
    assert math.isclose(LS.trend_slope(ts, 2.0 * ts ** -0.5, 10_000), -0.5, rel_tol=1e-12)
    assert math.isnan(LS.trend_slope(ts, np.array([0.1, 0.01, 0.0]), 10_000))
