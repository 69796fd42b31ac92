"""Hard and soft margins (min_i q_i/||theta||^L, l^{-1}(L)/||theta||^L, Lemma A.7's sandwich, general losses) in every norm, in log space."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import kktcheck as kc
from kktcheck.testing import strategies as kst

EPS = kst.EPS
D, H, C = 3, 4, 3


class TwoLayer:
    """Functional f(x) = a relu(W x), theta = (W (H, D), a (out, H)); degree 2 (declared_degree overrides)."""

    def __init__(self, declared_degree: int = 2):
        self.degree = declared_degree

    def apply_params(self, params, X):
        out = torch.relu(X @ params[0].T) @ params[1].T
        return out[:, 0] if out.shape[1] == 1 else out


def _q(theta, X, y):
    return kc.sample_margins(theta, (X, y), model=TwoLayer()).numpy()


def _slack(q, n, nrm_val, L):
    """Rounding allowance of gamma_bar - gamma_tilde: a few eps times the magnitudes involved."""
    return 32 * EPS * (np.abs(q).max() + math.log(n) + 1.0) / nrm_val ** L


@settings(max_examples=60)
@given(st.data())
def test_lemma_a7_sandwich_exp_loss(data):
    name = data.draw(kst.norms(), label="norm")
    n = data.draw(st.integers(2, 8), label="n")
    theta = data.draw(kst.params(shapes=[(H, D), (1, H)]), label="theta")
    X, y = data.draw(kst.binary_data(n=n, d=D), label="data")
    c = data.draw(st.sampled_from([0.1, 1.0, 5.0]), label="scale")
    theta = [c * t for t in theta]
    m, L = TwoLayer(), 2
    gbar = kc.margin(theta, (X, y), model=m, norm=name)
    gtil = kc.soft_margin(theta, (X, y), model=m, norm=name, loss="exp")
    rho = kc.norm(name)(theta)
    s = _slack(_q(theta, X, y), n, rho, L)
    assert gtil <= gbar + s
    assert gbar <= gtil + math.log(n) / rho ** L + s


@settings(max_examples=40)
@given(st.data())
def test_soft_margin_below_hard_margin_logistic_and_ce(data):
    name = data.draw(kst.norms(), label="norm")
    n = data.draw(st.integers(2, 8), label="n")
    theta_b = data.draw(kst.params(shapes=[(H, D), (1, H)]), label="theta_binary")
    Xb, yb = data.draw(kst.binary_data(n=n, d=D), label="binary")
    theta_m = data.draw(kst.params(shapes=[(H, D), (C, H)]), label="theta_multi")
    Xm, ym = data.draw(kst.multiclass_data(n=n, d=D, classes=C), label="multi")
    m = TwoLayer()
    for theta, X, y, loss in ((theta_b, Xb, yb, "logistic"), (theta_m, Xm, ym, "ce")):
        gbar = kc.margin(theta, (X, y), model=m, norm=name)
        gtil = kc.soft_margin(theta, (X, y), model=m, norm=name, loss=loss)
        q = kc.sample_margins(theta, (X, y), model=m).numpy()
        assert gtil <= gbar + _slack(q, n, kc.norm(name)(theta), 2)


@settings(max_examples=40)
@given(st.data())
def test_multiclass_margin_and_pairwise_exp_sandwich(data):
    n = data.draw(st.integers(2, 8), label="n")
    theta = data.draw(kst.params(shapes=[(H, D), (C, H)]), label="theta")
    X, y = data.draw(kst.multiclass_data(n=n, d=D, classes=C), label="data")
    m = TwoLayer()
    f = m.apply_params(theta, torch.as_tensor(X)).numpy()
    q_ref = np.array([f[i, y[i]] - max(f[i, j] for j in range(C) if j != y[i]) for i in range(n)])
    q = kc.sample_margins(theta, (X, y), model=m).numpy()
    assert np.array_equal(q, q_ref)
    # pairwise exp loss: e^{-q_min} <= L <= n (C-1) e^{-q_min}
    rho = kc.norm("l2")(theta)
    gbar = kc.margin(theta, (X, y), model=m, norm="l2")
    gtil = kc.soft_margin(theta, (X, y), model=m, norm="l2", loss="exp")
    s = _slack(q, n, rho, 2)
    assert gtil <= gbar + s <= gtil + math.log(n * (C - 1)) / rho ** 2 + 2 * s


@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_log_space_soft_margin_at_log_loss_minus_1e6(loss):
    """theta = (I, e_1^T) so f(x) = x_1 (the ReLU is inactive on x >= 0); q = (1e6, 1e6 + 1, 1e6 + 2): log L = -1e6 + log(1 + e^-1 + e^-2) analytically
    (logistic: l(q) = e^{-q} (1 + O(e^{-q})), identical in float64); L itself underflows to 0."""
    lin = TwoLayer()
    theta = [torch.eye(D, dtype=torch.float64), torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)]
    X = np.array([[1e6, 0, 0], [1e6 + 1, 0, 0], [1e6 + 2, 0, 0]])   # relu(W x) = x: f = x_1
    y = np.array([1.0, 1.0, 1.0])
    logL = -1e6 + math.log1p(math.exp(-1.0) + math.exp(-2.0))
    rho = kc.norm("l2")(theta)                                   # sqrt(3 + 1) = 2
    gtil = kc.soft_margin(theta, (X, y), model=lin, norm="l2", loss=loss)
    assert math.isfinite(gtil)
    assert abs(gtil - (-logL) / rho ** 2) <= 4 * EPS * 1e6 / rho ** 2
    assert abs(kc.margin(theta, (X, y), model=lin, norm="l2") - 1e6 / 4.0) <= 4 * EPS * 1e6
    assert math.exp(logL) == 0.0                                 # the naive route would give log(0)


def test_sandwich_is_tight_when_all_margins_are_equal():
    """All q_i equal: L = n e^{-q}, so gamma_bar - gamma_tilde = log n / ||theta||^L exactly."""
    m = TwoLayer()
    theta = [torch.eye(D, dtype=torch.float64), torch.ones(1, D, dtype=torch.float64)]
    X = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0], [1.0, 1.0, 0]])
    y = np.ones(4)
    gbar = kc.margin(theta, (X, y), model=m, norm="l2")
    gtil = kc.soft_margin(theta, (X, y), model=m, norm="l2")
    rho2 = kc.norm("l2")(theta) ** 2
    assert abs((gbar - gtil) - math.log(4) / rho2) <= 16 * EPS
    # negative control: a smaller constant (log n / 2) in the sandwich is violated here
    assert gbar > gtil + 0.5 * math.log(4) / rho2 + 1e-3
    # negative control: with the MEAN loss (log(1/(L/n))) the upper bound gamma_tilde <= gamma_bar fails as
    # soon as the margins differ: mean_i e^{-q_i} < e^{-q_min}
    X2 = X * np.array([[1.0], [1.5], [2.0], [1.0]])
    gbar2 = kc.margin(theta, (X2, y), model=m, norm="l2")
    gtil2_mean = kc.soft_margin(theta, (X2, y), model=m, norm="l2") + math.log(4) / rho2
    assert gtil2_mean > gbar2 + 1e-3
    assert kc.soft_margin(theta, (X2, y), model=m, norm="l2") <= gbar2


def test_wrong_degree_breaks_scale_invariance():
    """Negative control: with the declared degree 1 on a degree-2 model the 'margin' changes with scale."""
    theta = [torch.eye(D, dtype=torch.float64), torch.ones(1, D, dtype=torch.float64)]
    X, y = np.array([[1.0, 2.0, 0.5], [0.3, 0.2, 1.0]]), np.ones(2)
    for deg, invariant in ((2, True), (1, False)):
        m = TwoLayer(declared_degree=deg)
        g1 = kc.margin(theta, (X, y), model=m, norm="linf")
        g3 = kc.margin([3.0 * t for t in theta], (X, y), model=m, norm="linf")
        assert (abs(g3 - g1) <= 16 * EPS * abs(g1)) is invariant
        s1 = kc.soft_margin(theta, (X, y), model=m, norm="linf")
        s3 = kc.soft_margin([3.0 * t for t in theta], (X, y), model=m, norm="linf")
        assert s3 >= s1 - 16 * EPS * abs(s1)                     # soft margin increases with scale (both cases)


def test_user_sequential_module_margin():
    net = torch.nn.Sequential(torch.nn.Linear(D, H, bias=False), torch.nn.ReLU(), torch.nn.Linear(H, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(H, D)); net[2].weight.fill_(1.0)
    X, y = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]]), np.array([1.0, 1.0])
    theta = [net[0].weight.detach().double(), net[2].weight.detach().double()]
    assert kc.margin(net, (X, y), norm="l2") == pytest.approx(3.0 / kc.norm("l2")(theta) ** 2, rel=16 * EPS)


def test_pinned_ce_soft_margin_with_huge_loss_does_not_overflow():
    """Hypothesis counterexample (pinned): CE loss L ~ 8 log(1 + e^63) ~ 500 made expm1(L) overflow;
    l^{-1}(L) = -L - log1p(-e^{-L}) must be finite and below the hard margin."""
    theta = [torch.zeros(H, D, dtype=torch.float64), torch.zeros(C, H, dtype=torch.float64)]
    theta[0][3, 1], theta[1][2, 3] = 9.0, 7.0
    X = np.zeros((8, D)); X[4, 1] = 5.0; X[5, 1] = 7.0
    y = np.zeros(8, dtype=np.int64)
    m = TwoLayer()
    gtil = kc.soft_margin(theta, (X, y), model=m, norm="l2", loss="ce")
    gbar = kc.margin(theta, (X, y), model=m, norm="l2")
    assert math.isfinite(gtil) and gtil <= gbar
    L = 6 * math.log(3.0) + 315.0 + 441.0                      # outputs 9*7*(5, 7) on class 2, zeros elsewhere
    assert abs(gtil - (-L) / 130.0) <= 16 * EPS * L / 130.0      # ||theta||_2^2 = 81 + 49


@pytest.mark.parametrize("z", [-19.0, 0.0, 1e-3, 15.0, 21.0, 35.0, 700.0])
def test_log_softplus_keeps_the_tail_above_20(z):
    """Regression (found by hypothesis): torch's softplus returns z for z > 20, dropping log1p(e^-z)."""
    from kktcheck.losses import log_softplus
    exact = math.log(max(z, 0.0) + math.log1p(math.exp(-abs(z))))
    assert math.isclose(float(log_softplus(torch.tensor([z], dtype=torch.float64))[0]), exact, rel_tol=1e-15)


def test_logistic_soft_margin_below_hard_margin_with_one_point_at_q_minus_21():
    """The falsifying example: q = (24.5, -21); l^{-1}(L) <= q_min must hold to rounding."""
    W = torch.zeros(H, D, dtype=torch.float64)
    W[1, 2] = 0.5
    a = torch.zeros(1, H, dtype=torch.float64)
    a[0, 1] = -7.0
    X, y = np.array([[0.0, 0.0, 7.0], [0.0, 0.0, 6.0]]), np.array([-1.0, 1.0])
    m = TwoLayer()
    gbar = kc.margin([W, a], (X, y), model=m, norm="l2")
    gtil = kc.soft_margin([W, a], (X, y), model=m, norm="l2", loss="logistic")
    q = kc.sample_margins([W, a], (X, y), model=m).numpy()
    assert gtil <= gbar + _slack(q, 2, kc.norm("l2")([W, a]), 2)
