"""Fuzzing the public surface (issue 12, item 6): kc.margin, kc.soft_margin, kc.max_margin_linear and every
norm's value/dual/dualize over scales 10^-300 .. 10^300, shapes and non-finite entries. Each call returns a
finite, scale-consistent value (checked against numpy at unit scale times the known power of ten) or raises
ValueError/TypeError naming the offending argument. Example counts come from the profile in tests/conftest.py.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import kktcheck as kc
from kktcheck.testing import strategies as kst

EPS = kst.EPS
BIG = np.finfo(np.float64).max
P_OF = {"l2": 2.0, "l1": 1.0, "linf": np.inf, "lp:3": 3.0, "lp:1.5": 1.5}
DUAL = {"l2": "l2", "l1": "linf", "linf": "l1", "lp:3": "lp:1.5", "lp:1.5": "lp:3", "spectral": "nuclear",
        "nuclear": "spectral"}


def test_profile_is_loaded():
    from hypothesis import settings as s
    assert s.default.deadline is None


def np_norm(name, blocks):
    """Independent reference: numpy's norms at unit scale."""
    if name in P_OF:
        return float(np.linalg.norm(np.concatenate([b.reshape(-1) for b in blocks]), P_OF[name]))
    mats = [b.reshape(1, -1) if b.ndim < 2 else b.reshape(b.shape[0], -1) for b in blocks]
    vals = [np.linalg.norm(m, 2 if name == "spectral" else "nuc") for m in mats]
    return float(max(vals) if name == "spectral" else sum(vals))


@given(data=st.data(), name=st.sampled_from(sorted(DUAL)), k=kst.powers_of_ten())
def test_norm_value_dual_dualize(data, name, k):
    x = [t.numpy() for t in data.draw(kst.params(shapes=kst.shapes(max_layers=2)), label="x")]
    xs, bad = data.draw(kst.poisoned(x), label="poison")
    nrm, c = kc.norm(name), 10.0 ** k
    big = [torch.from_numpy(b * c) for b in xs]
    if bad is not None:
        for call, arg in ((nrm, "theta"), (nrm.dual, "g"), (nrm.dualize, "g")):
            with pytest.raises(ValueError, match=rf"{arg}\[{bad}\].*NaN or inf"):
                call(big)
        return
    P = sum(b.size for b in x)
    rel = 256 * EPS * math.sqrt(P)
    for value, log_value, ref_name, arg in ((nrm, nrm.log_value, name, "theta"),
                                            (nrm.dual, nrm.log_dual, DUAL[name], "g")):
        ref = np_norm(ref_name, x)
        assert log_value(big) == pytest.approx(math.log(ref) + k * math.log(10), rel=rel, abs=rel)
        if ref * c < BIG / 2:
            assert value(big) == pytest.approx(ref * c, rel=rel)
        elif ref * c > 2 * BIG or math.isinf(ref * c):
            with pytest.raises(ValueError, match=rf"{arg} overflows float64.*log_"):
                value(big)
    u = [t.numpy() for t in nrm.dualize(big)]
    assert np_norm(name, u) == pytest.approx(1.0, rel=rel)
    pairing = sum(float((a * b).sum()) for a, b in zip(x, u))
    assert pairing == pytest.approx(np_norm(DUAL[name], x), rel=rel)


class Lin:
    degree = 1

    def apply_params(self, params, X):
        return X @ params[0]


class TwoLayer:
    degree = 2

    def apply_params(self, params, X):
        return (torch.relu(X @ params[0].T) @ params[1].T)[:, 0]


def np_unit_margins(kind, theta, X, y, name):
    """(q(u), S): per-sample margins at u = theta/||theta|| and the size S_i = sum of |path contributions|."""
    r = np_norm(name, theta)
    if kind == "lin":
        w = theta[0] / r
        return y * (X @ w), np.abs(X) @ np.abs(w)
    W, a = theta[0] / r, theta[1] / r                             # q(theta / r) = q(theta) / r^2
    return y * (np.maximum(X @ W.T, 0) @ a.T)[:, 0], (np.abs(X) @ np.abs(W).T @ np.abs(a).T)[:, 0]


@st.composite
def margin_case(draw):
    kind = draw(st.sampled_from(["lin", "two"]))
    n, d = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    shapes = [(d,)] if kind == "lin" else [(3, d), (1, 3)]
    theta = [t.numpy() for t in draw(kst.params(shapes=shapes))]
    X, y = draw(kst.binary_data(n=n, d=d))
    return kind, theta, X, y


@given(case=margin_case(), name=st.sampled_from(sorted(P_OF)), kt=kst.powers_of_ten(),
       kx=kst.powers_of_ten(-300, 290), data=st.data())
def test_margin_and_soft_margin(case, name, kt, kx, data):
    kind, theta, X, y = case
    model = Lin() if kind == "lin" else TwoLayer()
    (Xp,), bad_x = data.draw(kst.poisoned([X]), label="poison X")
    theta_p, bad_t = data.draw(kst.poisoned(theta), label="poison theta") if bad_x is None else (theta, None)
    big_t, big_X = [t * 10.0 ** kt for t in theta_p], Xp * 10.0 ** kx
    if bad_x is not None or bad_t is not None:
        pattern = r"X contains NaN or inf" if bad_x is not None else rf"theta\[{bad_t}\].*NaN or inf"
        for call in (kc.margin, kc.soft_margin):
            with pytest.raises(ValueError, match=pattern):
                call(big_t, (big_X, y), model=model, norm=name)
        return
    q, S = np_unit_margins(kind, theta, X, y, name)
    tol = 256 * EPS * (X.shape[1] + 3) * float(S.max()) * 10.0 ** kx
    hard = kc.margin(big_t, (big_X, y), model=model, norm=name)
    assert abs(hard - float(q.min()) * 10.0 ** kx) <= tol + 1e-300
    log_C = model.degree * (math.log(np_norm(name, theta)) + kt * math.log(10))
    for loss in ("exp", "logistic"):
        try:
            soft = kc.soft_margin(big_t, (big_X, y), model=model, norm=name, loss=loss)
        except ValueError as err:                                # allowed only when l^-1(L)/C is beyond float64
            assert "theta is too small" in str(err) and log_C < -600
            continue
        # logistic: l^-1(L)/C from L ~ n log 2 + O(C) loses eps * n / C when C is small (its conditioning)
        cond = 64 * EPS * len(y) * math.exp(min(-log_C, 700.0)) if loss == "logistic" else 0.0
        assert math.isfinite(soft) and soft <= hard + tol + cond + 1e-300
        if loss == "exp" and log_C > -700:                        # Lemma A.7: hard - log(n)/C <= soft
            assert hard - soft <= math.log(len(y)) * math.exp(-log_C) * (1 + 1e-12) + tol + 1e-300


@settings(max_examples=12)
@given(data=kst.separable_linear_data(), name=st.sampled_from(["l1", "linf", "l2"]), k=kst.powers_of_ten(),
       poison=st.data())
def test_max_margin_linear(data, name, k, poison):
    X, y, _ = data
    (Xp,), bad = poison.draw(kst.poisoned([X], p_clean=0.8), label="poison")
    if bad is not None:
        with pytest.raises(ValueError, match=r"X contains NaN or inf"):
            kc.max_margin_linear(Xp * 10.0 ** k, y, norm=name)
        return
    r0 = kc.max_margin_linear(X, y, norm=name)
    rk = kc.max_margin_linear(X * 10.0 ** k, y, norm=name)
    assert rk.margin == pytest.approx(r0.margin * 10.0 ** k, rel=1e-7)
    assert rk.margin <= rk.dual_bound * (1 + 1e-7)
    A = y[:, None] * X
    assert float((A @ rk.w).min()) == pytest.approx(r0.margin, rel=1e-7)   # the scaled run's w at unit scale
