"""The late phase's log-scale frame theta = 2^e P (proofs_numeric.flow.scaled): the same flow, at every depth."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import kktcheck as kc
from proofs_numeric.checks import late_phase_checks as lp
from proofs_numeric.flow import RidgeStep, integrate, scaled
from proofs_numeric.flow.cases import kinked_case, linear_case
from proofs_numeric.flow.field import SteepestField
from proofs_numeric.losses import eval_log_loss


@pytest.mark.parametrize("kappa", [-0.5, 1.5, 3.0, 6.0])
def test_scaled_exp_loss_matches_the_direct_formula(kappa):
    q = torch.rand(12, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) + 0.5
    lL, depth, w = scaled.scaled_exp_loss(q, kappa, 2)
    zq = math.exp(2 * kappa) * q
    direct = float(torch.logsumexp(-zq, 0))
    assert lL == pytest.approx(direct, rel=1e-13)
    if direct < 0:                                                     # fitted: log log(1/L)
        assert depth == pytest.approx(math.log(-direct), rel=1e-13)
    else:                                                              # L >= 1: no depth
        assert math.isnan(depth)
    assert torch.allclose(w, torch.softmax(-zq, 0), rtol=1e-12, atol=1e-300)


def test_scaled_exp_loss_beyond_float64_keeps_its_logarithm():
    q = torch.tensor([0.5, 0.5, 0.9], dtype=torch.float64)
    lL, depth, w = scaled.scaled_exp_loss(q, 1000.0, 1)            # log(1/L) = 0.5 e^1000 - log 2
    assert lL == -math.inf and depth == pytest.approx(1000.0 + math.log(0.5), rel=1e-15)
    assert torch.equal(w, torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("autograd", [False, True])
def test_field_in_the_frame_is_the_field_at_theta(autograd):
    m, th, (X, y) = kinked_case(0)
    fm = kc.prepare(th, (X, y), m)[0] if not autograd else _AutogradOnly(m)
    nrm = kc.norm("l2")
    field = SteepestField(fm, X, y, nrm, degree=2)
    c = 3.0
    plain = field([p * c for p in th])
    frame = field(th, math.log(c))
    assert frame.log_L == pytest.approx(plain.log_L, rel=1e-12)
    for gp, gf in zip(plain.G, frame.G):                           # G = e^((L-1) kappa) G_P
        assert torch.allclose(gp, c * gf, rtol=1e-10, atol=1e-14)
    assert frame.log_gdual == pytest.approx(math.log(plain.gdual), rel=1e-12)
    assert frame.speed_factor == pytest.approx(plain.speed_factor / c, rel=1e-12)   # dP/ds = e^-kappa dtheta/ds


class _AutogradOnly(torch.nn.Module):
    """The same model without its closed form: the frame's autograd path."""
    def __init__(self, m):
        super().__init__()
        self.m, self.degree = m, m.degree

    def apply_params(self, params, X):
        return self.m.apply_params(params, X)


def test_renormalize_is_exact_and_unscaled_round_trips():
    P = [torch.tensor([[3.0e30, -1.25e-7, 7.0]], dtype=torch.float64)]
    nrm = kc.norm("l2")
    P2, k = scaled.renormalize(P, float(nrm(P)))
    assert k == math.floor(math.log2(float(nrm(P)))) and 1.0 <= float(nrm(P2)) < 2.0
    assert torch.equal(scaled.unscaled(P2, k)[0], P[0])              # a power of two: nothing rounded
    assert scaled.renormalize(P2, float(nrm(P2)))[1] == 0               # ||P'|| in [1, 2): nothing to move
    assert scaled.unscaled(P2, 2000) is None                           # beyond float64: no parameters, no infs


@pytest.mark.parametrize("case,norm", [(linear_case, "l2"), (linear_case, "linf"), (kinked_case, "l2"),
                                       (kinked_case, "linf")])
def test_the_frame_follows_the_same_path_as_plain_float64(case, norm, monkeypatch):
    m, th, data = case(0)
    plain = integrate(m, th, data, norm=norm, step=RidgeStep(0.25), target_log_loss=-1e4, max_steps=3000)
    monkeypatch.setattr(scaled, "RENORMALIZE_ABOVE", 4.0)             # rescale from ||theta|| = 4 on
    framed = integrate(m, th, data, norm=norm, step=RidgeStep(0.25), target_log_loss=-1e4, max_steps=3000)
    assert framed.frame_exponent > 0 and plain.frame_exponent == 0
    assert framed.info["steps"] == plain.info["steps"]
    np.testing.assert_allclose(framed.margin, plain.margin, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(framed.log_loss, plain.log_loss, rtol=1e-9)
    np.testing.assert_allclose(framed.theta_norm, plain.theta_norm, rtol=1e-9)
    np.testing.assert_allclose(framed.s, plain.s, rtol=1e-9)
    np.testing.assert_allclose(framed.soft_margin, plain.soft_margin, rtol=1e-9, atol=1e-12)
    for a, b in zip(framed.params, plain.params):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_linear_run_continues_past_1e308_and_reaches_the_max_margin():
    m, th, (X, y) = linear_case(0)
    tr = integrate(m, th, (X, y), norm="linf", step=RidgeStep(0.5), target_log_depth=730.0, max_seconds=120)
    i0 = tr.t0_index
    assert tr.status == "success" and tr.log_theta_norm[-1] > 709.8 and tr.params is None
    for a in (tr.log_theta_norm, tr.log_depth, tr.log_s, tr.margin, tr.soft_margin, tr.alignment):
        assert np.all(np.isfinite(a[i0:]))
    assert tr.theta_norm[-1] == math.inf and tr.log_loss[-1] == -math.inf     # honest saturation, not a value
    exact = kc.max_margin_linear(X, y, "linf").margin
    assert abs(tr.margin[-1] - exact) <= 1e-3 * exact
    d = tr.direction[0].reshape(-1)
    assert float(d.abs().max()) == pytest.approx(1.0, rel=1e-14)
    assert tr.log_norm == pytest.approx(tr.log_theta_norm[-1], rel=1e-12)


def test_beyond_float64_check_passes_and_its_plain_float64_control_fails():
    r = lp.check_beyond_float64("l2", log_depth=800.0)
    ctl = lp.check_beyond_float64("l2", log_depth=800.0, control=True)
    assert r.passed and r.measured >= 800.0 and r.detail["log_theta_norm"] > lp.LOG_FLOAT_MAX
    assert r.detail["all_finite"]
    assert not ctl.passed and ctl.detail["status"] == "stalled" and ctl.negative_control
    assert 700.0 < ctl.measured < 800.0             # a finite measurement that fails: evidence, not "no evidence"


@pytest.mark.parametrize("bad", [math.nan, "deep"])
def test_integrate_refuses_a_bad_target_log_depth(bad):
    m, th, data = linear_case(0)
    with pytest.raises(ValueError, match="target_log_depth"):
        integrate(m, th, data, norm="l2", target_log_depth=bad)
