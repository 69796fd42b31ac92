"""Exact linear max margin (max_{||w|| <= 1} min_i y_i <w, x_i>): cvxpy answer vs independent scipy solvers, to 1e-7 relative."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from scipy.optimize import linprog, nnls

import kktcheck as kc
import kktcheck.linear as lin
from kktcheck.testing import strategies as kst

RTOL = 1e-7


def linprog_margin(A, norm):
    """Independent LP (scipy HiGHS): linf: max t, A w >= t, -1 <= w <= 1; l1: w = w+ - w-, 1^T(w+ + w-) <= 1."""
    n, d = A.shape
    if norm == "linf":
        c = np.r_[np.zeros(d), -1.0]
        res = linprog(c, A_ub=np.c_[-A, np.ones(n)], b_ub=np.zeros(n), bounds=[(-1, 1)] * d + [(None, None)])
    else:
        c = np.r_[np.zeros(2 * d), -1.0]
        A_ub = np.r_[np.c_[-A, A, np.ones(n)], [np.r_[np.ones(2 * d), 0.0]]]
        res = linprog(c, A_ub=A_ub, b_ub=np.r_[np.zeros(n), 1.0], bounds=[(0, None)] * 2 * d + [(None, None)])
    assert res.status == 0
    return -res.fun


def nnls_l2_margin(A):
    """Independent SVM by Lawson-Hanson least-distance programming: min ||w||_2 s.t. A w >= 1 is solved by
    NNLS on E = [A^T; 1^T], f = e_{d+1}: r = E u - f, w = -r[:d] / r[d]; gamma = 1 / ||w||."""
    s = np.linalg.norm(A, axis=1).max()                          # gamma scales linearly: solve on A / s
    A = A / s
    d = A.shape[1]
    E = np.r_[A.T, np.ones((1, len(A)))]
    u, _ = nnls(E, np.r_[np.zeros(d), 1.0], maxiter=50 * E.shape[1])
    r = E @ u - np.r_[np.zeros(d), 1.0]
    w = -r[:d] / r[d]
    assert (A @ w).min() >= 1 - 1e-9
    return s / np.linalg.norm(w)


@settings(max_examples=25)
@given(data=kst.separable_linear_data(), norm=st.sampled_from(["l1", "linf", "l2", "lp:3"]))
# pinned hypothesis counterexamples: repeated tiny points (made SLSQP fail; gap = -7e-18 by rounding)
@example(data=(np.full((3, 2), -0.03535534), np.ones(3), np.array([-0.70710678, -0.70710678])), norm="l2")
@example(data=(np.tile([[-0.04, -0.03]], (3, 1)), np.ones(3), np.array([-0.8, -0.6])), norm="l2")
@example(data=(np.r_[np.full((10, 3), -0.02886751), [[0.0, 0.0, -1.0]]], np.ones(11), -np.ones(3) / 3 ** 0.5),
         norm="l2")
def test_matches_independent_solver_and_certificate(data, norm):
    X, y, _ = data
    res = kc.max_margin_linear(X, y, norm=norm)
    A = y[:, None] * X
    nrm = kc.norm(norm)
    assert res.status == "optimal" and res.norm == nrm.name
    assert abs(nrm(res.w) - 1) <= kst.tolerance(1.0, len(res.w))
    assert res.margin == pytest.approx(float((A @ res.w).min()), rel=kst.tolerance(1.0, len(A)), abs=0)
    assert -kst.tolerance(res.margin, len(A)) <= res.gap <= RTOL * res.margin   # primal-dual certificate
    if norm in ("l1", "linf"):
        assert res.margin == pytest.approx(linprog_margin(A, norm), rel=RTOL)
    elif norm == "l2":
        assert res.margin == pytest.approx(nnls_l2_margin(A), rel=RTOL)


def test_known_answers():
    """x = (1, 0), (0, 1), y = +1: gamma*_l2 = 1/sqrt 2, gamma*_linf = 1 (w = (1, 1)), gamma*_l1 = 1/2."""
    X, y = np.eye(2), np.ones(2)
    assert kc.max_margin_linear(X, y, "l2").margin == pytest.approx(2 ** -0.5, rel=1e-12)
    r = kc.max_margin_linear(X, y, "linf")
    assert r.margin == pytest.approx(1.0, rel=1e-12) and np.allclose(r.w, [1, 1])
    assert kc.max_margin_linear(X, y, "l1").margin == pytest.approx(0.5, rel=1e-12)


def test_non_separable_raises():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    y = np.array([1.0, 1.0, 1.0])                                  # x and -x with the same label
    for norm in ("l1", "l2", "linf"):
        with pytest.raises(ValueError, match="not linearly separable"):
            kc.max_margin_linear(X, y, norm=norm)
    with pytest.raises(ValueError, match="not linearly separable"):
        kc.max_margin_linear(np.zeros((3, 2)), np.ones(3), norm="l2")


def test_bad_labels_and_shapes():
    with pytest.raises(ValueError, match="y = 2\\*y - 1"):
        kc.max_margin_linear(np.eye(2), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2,\)"):
        kc.max_margin_linear(np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError, match="valid names"):
        kc.max_margin_linear(np.eye(2), np.ones(2), norm="l7")


def test_solver_failure_carries_status(monkeypatch):
    """Negative control: an iteration cap of 1 must surface as an error with the solver status, not a number."""
    monkeypatch.setattr(lin, "_SOCP_OPTS", {**lin._SOCP_OPTS, "max_iter": 1})
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 4)); y = np.sign(X @ np.ones(4))
    with pytest.raises(RuntimeError, match="status"):
        kc.max_margin_linear(X, y, norm="l2")


def test_time_limit_stops_the_solver_with_a_clear_error():
    """Resource limit (issue 12): a solver that runs out of time raises naming time_limit, never a wrong margin;
    the same problem without the limit is solved (negative control)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 100))
    y = np.sign(X[:, 0])
    for norm in ("l1", "l2"):
        with pytest.raises(RuntimeError, match=r"time_limit = 1e-06 s before an optimal solution \(n = 300"):
            kc.max_margin_linear(X, y, norm, time_limit=1e-6)
    assert kc.max_margin_linear(X[:40], y[:40], "l2", time_limit=60).margin > 0


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                     ("5", TypeError)])
def test_time_limit_is_checked(bad, exc):
    with pytest.raises(exc, match="time_limit must be"):
        kc.max_margin_linear(np.eye(2), np.ones(2), time_limit=bad)


def test_max_margin_linear_refuses_a_program_above_max_size_before_building_it():
    X = np.random.default_rng(0).normal(size=(50, 20))
    y = np.sign(X[:, 0])
    with pytest.raises(ValueError, match="max_size"):
        kc.max_margin_linear(X, y, norm="linf", max_size=999)          # n d = 1000 entries
    assert kc.max_margin_linear(X, y, norm="linf", max_size=1000).margin > 0   # the same data within the limit
    with pytest.raises(ValueError, match="max_size"):
        kc.max_margin_linear(X, y, norm="linf", max_size=0)
