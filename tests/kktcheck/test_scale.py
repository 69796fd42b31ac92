"""Scale: norms, margins, losses and the linear program are exact under theta -> 10^k theta and
X -> 10^k X for every k float64 can hold (issue 12, item 1).

Independent references: the unit-scale answer (k = 0) times the known power of ten, and for the soft
margin a 60-digit mpmath evaluation of -log(sum_i exp(-C q_i)) / C with C = ||theta||^L.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

import kktcheck as kc
from kktcheck.testing import strategies as kst

EPS = kst.EPS
NAMES = ("l2", "l1", "linf", "lp:3", "lp:1.5", "spectral", "nuclear")
POWERS = (-300, -200, -160, 160, 200, 300)
G = torch.Generator().manual_seed(12)
THETA = [torch.randn(3, 4, dtype=torch.float64, generator=G), torch.randn(1, 3, dtype=torch.float64, generator=G)]
REL = 64 * EPS * 4   # rounding of the 10^k multiplication, the sums and the SVD (c * eps * sqrt(P))


def _scaled(theta, k):
    return [t * 10.0 ** k for t in theta]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("k", POWERS)
def test_norm_value_dual_dualize_scale(name, k):
    nrm = kc.norm(name)
    big = _scaled(THETA, k)
    assert nrm(big) == pytest.approx(nrm(THETA) * 10.0 ** k, rel=REL)
    assert nrm.dual(big) == pytest.approx(nrm.dual(THETA) * 10.0 ** k, rel=REL)
    for u, u0 in zip(nrm.dualize(big), nrm.dualize(THETA)):
        assert torch.allclose(u, u0, rtol=REL, atol=REL)
    assert nrm.log_value(big) == pytest.approx(math.log(nrm(THETA)) + k * math.log(10), rel=REL)


def test_norm_overflow_is_an_error_with_log_value_finite():
    """||theta||_1 of 10 entries of 1e308 is 1e309: not a float64. The value refuses, the log is exact."""
    x = [torch.full((10,), 1e308, dtype=torch.float64)]
    with pytest.raises(ValueError, match=r"theta.*overflows float64.*log_value"):
        kc.norm("l1")(x)
    assert kc.norm("l1").log_value(x) == pytest.approx(math.log(10.0) + math.log(1e308), rel=4 * EPS)


class Lin:
    """f(x) = <w, x>, degree 1."""
    degree = 1

    def apply_params(self, params, X):
        return X @ params[0].reshape(-1)


class TwoLayer:
    """f(x) = a relu(W x), degree 2 in theta, degree 1 in x."""
    degree = 2

    def apply_params(self, params, X):
        return (torch.relu(X @ params[0].T) @ params[1].T)[:, 0]


X = np.array([[1.0, 0.5, -0.2, 0.3], [-0.7, -1.0, 0.1, 0.4], [0.9, -0.3, 0.6, -0.5], [-0.4, 0.8, -0.9, 0.2]])
W = np.array([1.0, -0.5, 0.25, 0.1])
Y = np.sign(X @ W)


@pytest.mark.parametrize("name", ("l2", "l1", "linf", "lp:3"))
@pytest.mark.parametrize("k", POWERS)
def test_margin_of_a_linear_separator_is_scale_invariant(name, k):
    """Before the fix: 0.0 at k >= 154 for l2 (||w||_2 overflowed)."""
    m0 = kc.margin([W], (X, Y), model=Lin(), norm=name)
    assert m0 > 0
    assert kc.margin([W * 10.0 ** k], (X, Y), model=Lin(), norm=name) == pytest.approx(m0, rel=REL)


@pytest.mark.parametrize("k", POWERS)
def test_margin_scales_with_X(k):
    m0 = kc.margin(THETA, (X[:, :4], Y), model=TwoLayer(), norm="l2")
    mk = kc.margin(THETA, (X * 10.0 ** k, Y), model=TwoLayer(), norm="l2")
    assert mk == pytest.approx(m0 * 10.0 ** k, rel=REL)


def _mp_l2(v):
    """||v||_2 of a float64 vector, in 60 digits (C is taken from the actual float theta, not from 10^k)."""
    with mpmath.workdps(60):
        return mpmath.sqrt(mpmath.fsum(mpmath.mpf(float(x)) ** 2 for x in np.ravel(v)))


def _mp_soft_margin(q_unit, C):
    """-log(sum exp(-C q_i)) / C in 60-digit arithmetic."""
    with mpmath.workdps(60):
        return float(-mpmath.log(mpmath.fsum(mpmath.exp(-C * mpmath.mpf(q)) for q in q_unit)) / C)


@pytest.mark.parametrize("k", (-1, 0, 1, 2, 3, 160, 300))
def test_soft_margin_exp_matches_mpmath_at_every_scale(k):
    nrm = kc.norm("l2")
    u = W / nrm([W])
    q_unit = (Y * (X @ u)).tolist()
    got = kc.soft_margin([W * 10.0 ** k], (X, Y), model=Lin(), norm="l2", loss="exp")
    assert got == pytest.approx(_mp_soft_margin(q_unit, _mp_l2(W * 10.0 ** k)), rel=REL)


@pytest.mark.parametrize("loss", ("exp", "logistic"))
def test_soft_margin_at_huge_scale_equals_hard_margin(loss):
    """C = ||theta||^2 = 1e600: l^{-1}(L)/C = min_i q_i up to log(n)/C; before the fix 0.0 or nan."""
    theta = _scaled(THETA, 300)
    Xs = np.abs(X[:, :4]) + 0.1          # positive inputs: relu(W x) non-zero
    ys = np.sign(kc.sample_margins(THETA, (Xs, np.ones(4)), model=TwoLayer()).numpy())
    hard = kc.margin(theta, (Xs, ys), model=TwoLayer(), norm="l2")
    assert hard > 0
    assert kc.soft_margin(theta, (Xs, ys), model=TwoLayer(), norm="l2", loss=loss) == pytest.approx(hard, rel=REL)


def test_soft_margin_beyond_float64_is_an_error():
    """||theta|| = 1e-200, L = 2: the soft margin is about -log(n) 1e400, not a float64."""
    with pytest.raises(ValueError, match=r"theta.*soft margin"):
        kc.soft_margin(_scaled(THETA, -200), (X, np.array([1.0, -1, 1, -1])), model=TwoLayer(), loss="exp")


def test_inverse_loss_overflow_names_log_L():
    with pytest.raises(ValueError, match=r"log_L = 800.*float64"):
        kc.inverse_loss(800.0, "logistic")
    with pytest.raises(ValueError, match=r"log_L.*nan"):
        kc.inverse_loss(float("nan"), "exp")


@pytest.mark.parametrize("name", ("l1", "linf", "l2"))
@pytest.mark.parametrize("k", (-200, 200, 300))
def test_max_margin_linear_scales_with_X(name, k):
    """Before the fix: "not linearly separable" / "every x_i is 0" at k = +-200 (l2 dual norms)."""
    r0 = kc.max_margin_linear(X, Y, norm=name)
    rk = kc.max_margin_linear(X * 10.0 ** k, Y, norm=name)
    assert rk.margin == pytest.approx(r0.margin * 10.0 ** k, rel=1e-7)
    assert rk.dual_bound == pytest.approx(r0.dual_bound * 10.0 ** k, rel=1e-7)
    assert np.allclose(rk.w, r0.w, rtol=1e-6, atol=1e-7)


def _mp_logistic_soft(q, C):
    """-log(exp(L) - 1) / C, L = sum_i log(1 + exp(-C q_i)), 60 digits."""
    with mpmath.workdps(60):
        L = mpmath.fsum(mpmath.log1p(mpmath.exp(-C * mpmath.mpf(v))) for v in q)
        return float(-mpmath.log(mpmath.expm1(L)) / C)


@pytest.mark.parametrize("X1,k", [([[0.5], [0.6], [1e300]], 0), ([[0.5], [-0.6], [-1e300]], 0),
                                  ([[0.5], [0.6]], 5), ([[0.5], [-0.6]], 300), ([[0.5], [0.6]], -300)])
def test_logistic_soft_margin_matches_mpmath(X1, k):
    """Pinned from the fuzzer: outputs up to 1e300 at C = 1 (one huge sample must not turn the logistic
    soft margin into the exp formula), and C = 10^+-300 (direct formula, exact limits)."""
    X1 = np.asarray(X1)
    y1 = np.ones(len(X1))
    w = np.array([10.0 ** k])
    got = kc.soft_margin([w], (X1, y1), model=Lin(), norm="l2", loss="logistic")
    assert got == pytest.approx(_mp_logistic_soft((X1[:, 0]).tolist(), _mp_l2(w)), rel=REL)


def test_soft_margin_of_zero_outputs_at_huge_scale():
    """Pinned from the fuzzer: f(u) = 0 at ||theta||^2 = 1e310 raised OverflowError (math.exp(log C)).
    All q_i = 0: L = n l(0), so l^{-1}(L)/C = -log(n)/C (exp) and -log(2^n - 1)/C (logistic), n = 2: subnormal
    numbers (about 45 significant bits at 1e-310)."""
    theta = [np.array([[1.0], [0.0], [0.0]]) * 1e155, np.zeros((1, 3))]
    theta[1][0, 0] = 1e-300                       # f(u) = 0 on x = 0 below; theta != 0
    data = (np.zeros((2, 1)), -np.ones(2))
    with mpmath.workdps(30):
        C = mpmath.mpf(10) ** 310
        want = {"exp": float(-mpmath.log(2) / C), "logistic": float(-mpmath.log(3) / C)}
    for loss in ("exp", "logistic"):
        assert kc.soft_margin(theta, data, model=TwoLayer(), loss=loss) == pytest.approx(want[loss], rel=1e-12)
