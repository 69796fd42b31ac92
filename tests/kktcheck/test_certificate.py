"""Prop. A.13 certificate and Prop. B.6 identity on short steepest-descent runs (linear and two-layer ReLU)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import kktcheck as kc
from kktcheck.params import flatten
from kktcheck.reference import separable_data
from proofs_numeric.checks.kkt_checks import local_trajectory
from proofs_numeric.models import Linear, TwoLayerReLU

EPS = float(np.finfo(np.float64).eps)


def _data(seed=0, n=12, d=5):
    return separable_data(n, d, seed, gap=0.3)


def _run(model, norm, steps=1500, seed=0):
    g = torch.Generator().manual_seed(seed)
    th0 = model.init(0.1, g)
    snaps, lls = local_trajectory(model, th0, _data(), norm=norm, lr=0.05, steps=steps, snapshot_every=steps // 5)
    return [s for s, ll in zip(snaps, lls) if ll < 0]


CASES = [("linear", "l2"), ("linear", "linf"), ("linear", "l1"), ("relu2", "l2")]


@pytest.fixture(scope="module")
def runs():
    out = {}
    for kind, norm in CASES:
        model = Linear(5) if kind == "linear" else TwoLayerReLU(5, 8, train_output=True)
        snaps = _run(model, norm)
        assert len(snaps) >= 3, f"{kind}/{norm}: the run did not separate the data"
        out[kind, norm] = (model, snaps)
    return out


@pytest.mark.parametrize("case", CASES)
def test_a13_certificate_identities_and_delta_bound(runs, case):
    model, snaps = runs[case]
    nrm = kc.norm(case[1])
    deltas = []
    for p in snaps:
        c = kc.a13_certificate(p, _data(), model=model, norm=nrm)
        P = c.k.shape[1]
        # u = sum_i lambda_i k_i points along -grad L(theta), computed here independently by autograd of
        # log L = logsumexp(-q) (same direction as grad L, no underflow), and has dual norm ||theta~|| (A.13)
        ps = [b.detach().clone().requires_grad_(True) for b in p]
        X, y = _data()
        torch.logsumexp(-torch.as_tensor(y) * model.apply_params(ps, torch.as_tensor(X)), 0).backward()
        g = flatten([b.grad for b in ps])
        u = flatten(c.u)
        assert torch.allclose(u / u.norm(), -g / g.norm(), rtol=0, atol=1e-10)
        assert nrm.dual(c.u) == pytest.approx(c.theta_tilde_norm, rel=64 * EPS * math.sqrt(P))
        # complementarity recomputed from lambda and q~ = q / q_min; the A.13 bound
        assert float(c.lambdas @ (c.q / c.q_min - 1.0)) == pytest.approx(c.delta, rel=1e-10, abs=1e-300)
        assert 0 <= c.delta <= c.delta_bound
        # Prop. B.6: D = ||theta~||^2 (1 - beta) = gamma_bar^{-2/L} (1 - beta), an identity up to rounding
        tol = 64 * EPS * math.sqrt(P) * c.theta_tilde_norm ** 2
        assert abs(c.bregman - c.bregman_identity) <= tol
        assert abs(c.bregman - c.bregman_gamma) <= tol
        assert 0 < c.beta <= 1 + 64 * EPS
        # eps is ||h - u||_* for the returned h, and h lies in ||theta~|| d||theta~||: FY gap of h is ~0
        assert nrm.dual([a - b for a, b in zip(c.h, c.u)]) == pytest.approx(c.eps, rel=1e-12, abs=1e-300)
        assert kc.bregman(c.h, [c.theta_tilde_norm / c.rho * b for b in p], nrm) <= 1e-6 * c.theta_tilde_norm ** 2
        deltas.append(c.delta)
    assert deltas[-1] < deltas[0]  # delta -> 0 as L -> 0 (Prop A.13: delta <= m / (e L gamma^{2/L} log(1/L)))


def test_l2_bregman_is_half_eps_squared(runs):
    """For l2, d(1/2||theta~||^2) = {theta~}: D(u) = 1/2 ||u - theta~||^2 = 1/2 eps^2."""
    model, snaps = runs["linear", "l2"]
    for p in snaps:
        c = kc.a13_certificate(p, _data(), model=model, norm="l2")
        assert c.bregman == pytest.approx(0.5 * c.eps ** 2, rel=1e-6, abs=64 * EPS * c.theta_tilde_norm ** 2)


@pytest.mark.parametrize("case", [("linear", "linf"), ("relu2", "l2")])
def test_optimized_proximity_never_worse_than_construction(runs, case):
    """The certificate's lambda is feasible for Eq. (74) with eps = max(D, delta), so P_D <= max(D, delta)."""
    model, snaps = runs[case]
    for p in snaps[-2:]:
        c = kc.a13_certificate(p, _data(), model=model, norm=case[1])
        r = kc.bregman_proximity(p, _data(), model=model, norm=case[1])
        assert r.ok
        assert r.value <= max(c.bregman, c.delta) * (1 + 1e-6) + 1e-9 * c.theta_tilde_norm ** 2


def test_log_space_matches_raw_formula_and_survives_underflow():
    X, y = _data()
    model = Linear(5)
    snaps = _run(model, "l2", steps=600)
    p = snaps[-1]
    c = kc.a13_certificate(p, (X, y), model=model, norm="l2")
    # raw-exp formula at moderate margins: lambda_i = e^{-q_i} q_min^{1-2/L} rho / ||g||_*  (L = 1)
    q = torch.from_numpy(c.q)
    g = -(torch.exp(-q) @ (c.k * c.q_min ** 0))                 # k_i = grad q_i for L = 1
    raw = torch.exp(-q) * c.q_min ** (1 - 2.0) * c.rho / torch.linalg.vector_norm(g)
    assert np.allclose(c.lambdas, raw.numpy(), rtol=1e-12, atol=0)
    # scaled until e^{-q_min} underflows to 0 in float64: the certificate stays finite and consistent
    big = [b * (2000.0 / c.q_min) for b in p]
    assert float(torch.exp(-torch.tensor(2000.0))) == 0.0
    cb = kc.a13_certificate(big, (X, y), model=model, norm="l2")
    assert np.isfinite(cb.lambdas).all() and cb.lambdas.max() > 0
    assert cb.log_loss < -1900 and math.isfinite(cb.delta_bound) and cb.delta <= cb.delta_bound
    assert kc.norm("l2").dual(cb.u) == pytest.approx(cb.theta_tilde_norm, rel=1e-12)


def test_bad_input():
    X, y = _data()
    model = Linear(5)
    w = [torch.tensor(np.linalg.lstsq(X, y, rcond=None)[0][None, :])]
    y2 = y.copy()
    y2[:2] *= -1
    with pytest.raises(ValueError, match="misclassified"):
        kc.a13_certificate(w, (X, y2), model=model, norm="l2")
    with pytest.raises(ValueError, match="exponential loss"):
        kc.a13_certificate(w, (X, y), model=model, norm="l2", loss="logistic")
