"""Generalized Bregman divergence (D(u, h) = 1/2||u||_*^2 + 1/2||theta||^2 - <theta, u>) and the Bregman and Dutta proximity measures."""
from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import kktcheck as kc
from kktcheck.reference import separable_data
from kktcheck.divergence import generalized_bregman
from kktcheck.params import flatten, inner
from proofs_numeric.models import MatrixLinear

EPS = float(np.finfo(np.float64).eps)
NORMS = ["l2", "l1", "linf", "lp:3", "spectral"]
SHAPES = [(3, 4), (1, 3)]


def _params(draw_vals):
    out, s = [], 0
    for sh in SHAPES:
        n = sh[0] * sh[1]
        out.append(torch.tensor(draw_vals[s:s + n], dtype=torch.float64).reshape(sh))
        s += n
    return out


_P = sum(a * b for a, b in SHAPES)
_vals = st.lists(st.floats(-10, 10).filter(lambda v: v == 0 or abs(v) > 1e-6), min_size=_P, max_size=_P)


def _tol(nrm, theta, u):
    """Rounding scale of the gap: a few eps times the magnitudes of the terms and the dimension."""
    return 16 * EPS * math.sqrt(_P) * (nrm(theta) ** 2 + nrm.dual(u) ** 2 + 1e-300)


@settings(max_examples=30)
@given(name=st.sampled_from(NORMS), tv=_vals, uv=_vals)
def test_fenchel_young_gap_nonnegative_and_zero_on_subdifferential(name, tv, uv):
    nrm = kc.norm(name)
    theta, u = _params(tv), _params(uv)
    assert kc.bregman(u, theta, nrm) >= -_tol(nrm, theta, u)
    h = [nrm(theta) * v for v in nrm.subgradient(theta)]          # h in d(1/2 ||theta||^2)
    assert abs(kc.bregman(h, theta, nrm)) <= _tol(nrm, theta, h)
    # Def. B.4 with psi = 1/2 ||.||_*^2 and s = theta in d psi(h) gives the same number
    psi = lambda x: 0.5 * nrm.dual(x) ** 2  # noqa: E731
    assert generalized_bregman(psi, u, h, theta) == pytest.approx(kc.bregman(u, theta, nrm),
                                                                  abs=4 * _tol(nrm, theta, u))


@settings(max_examples=30)
@given(tv=_vals, uv=_vals)
def test_l2_gap_is_half_squared_distance(tv, uv):
    theta, u = _params(tv), _params(uv)
    want = 0.5 * float(((flatten(u) - flatten(theta)) ** 2).sum())
    assert kc.bregman(u, theta, "l2") == pytest.approx(want, abs=_tol(kc.norm("l2"), theta, u))


@pytest.mark.parametrize("name", NORMS)
def test_gap_positive_off_the_subdifferential(name):
    """Negative control: scaled or rotated elements of d(1/2||theta||^2) are not in it, and the gap sees it."""
    nrm = kc.norm(name)
    g = torch.Generator().manual_seed(3)
    theta = [torch.randn(sh, dtype=torch.float64, generator=g) for sh in SHAPES]
    h = [nrm(theta) * v for v in nrm.subgradient(theta)]
    assert kc.bregman([2 * b for b in h], theta, nrm) == pytest.approx(0.5 * nrm(theta) ** 2, rel=1e-12)
    assert kc.bregman([-b for b in h], theta, nrm) == pytest.approx(2 * nrm(theta) ** 2, rel=1e-12)
    other = [torch.randn(sh, dtype=torch.float64, generator=g) for sh in SHAPES]
    other = [nrm(theta) / nrm.dual(other) * b for b in other]  # right dual norm, wrong direction
    gap = kc.bregman(other, theta, nrm)
    assert gap == pytest.approx(nrm(theta) ** 2 - inner(theta, other), rel=1e-9)
    assert gap > 1e-3 * nrm(theta) ** 2


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="shapes"):
        kc.bregman([torch.ones(3)], [torch.ones(4)], "l2")


# ---------------------------------------------------------------- proximity measures at a known KKT point
def _linear_data(seed=0, n=12, d=5):
    return separable_data(n, d, seed, gap=0.3)


def _svm(X, y, name):
    """Exact max-margin direction of (MM) for a linear model (the KKT point), by convex programming."""
    w = cp.Variable(X.shape[1])
    p = {"l2": 2, "l1": 1, "linf": "inf"}[name]
    cp.Problem(cp.Minimize(cp.norm(w, p)), [cp.multiply(y, X @ w) >= 1]).solve(solver="CLARABEL")
    return [torch.tensor(w.value[None, :])]


def _matrix_data(seed=1, n=12, a=3, b=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, a, b))
    W0 = rng.normal(size=(a, 1)) @ rng.normal(size=(1, b))
    y = np.sign((X * W0).sum((1, 2)))
    X += 0.3 * y[:, None, None] * W0 / np.linalg.norm(W0)
    W = cp.Variable((a, b))
    cons = [cp.multiply(y, cp.hstack([cp.sum(cp.multiply(Xi, W)) for Xi in X])) >= 1]
    cp.Problem(cp.Minimize(cp.sigma_max(W)), cons).solve(solver="CLARABEL")
    return (X, y), [torch.tensor(W.value)]


def _cases():
    for name in ("l2", "l1", "linf"):
        X, y = _linear_data()
        yield name, (X, y), kc_models_linear(X.shape[1]), _svm(X, y, name)
    data, W = _matrix_data()
    yield "spectral", data, MatrixLinear(3, 3), W


def kc_models_linear(d):
    from proofs_numeric.models import Linear
    return Linear(d)


@pytest.mark.parametrize("measure", ["bregman_proximity", "dutta_proximity"])
def test_proximity_zero_at_kkt_point_positive_after_perturbation(measure):
    fn = getattr(kc, measure)
    g = torch.Generator().manual_seed(5)
    for name, data, model, theta in _cases():
        at = fn(theta, data, model=model, norm=name)
        assert at.ok, (name, at.status, at.message)
        # the SVM is solved to interior-point accuracy (~1e-8 relative); the measure is linear in that error
        assert at.value_rel <= 1e-6, (name, at.value_rel)
        assert np.all(at.lambdas >= 0)
        pert = [b + 0.05 * b.abs().max() * torch.randn(b.shape, dtype=torch.float64, generator=g) for b in theta]
        off = fn(pert, data, model=model, norm=name)
        assert off.ok and off.value_rel > 1e-2, (name, off.value_rel)


def test_dutta_l2_is_scale_invariant():
    """The measure is evaluated at theta~ = theta / q_min^{1/L}: rescaling theta does not change it (l2: exact gradient)."""
    X, y = _linear_data(seed=2)
    theta = _svm(X, y, "l2")
    model = kc_models_linear(X.shape[1])
    r = kc.dutta_proximity([1.3 * theta[0]], (X, y), model=model, norm="l2")  # scale-invariant measure
    r0 = kc.dutta_proximity(theta, (X, y), model=model, norm="l2")
    assert r.info["subgradient"] == "exact"
    assert r.value_rel == pytest.approx(r0.value_rel, abs=1e-7)


def test_misclassified_points_are_counted():
    X, y = _linear_data()
    theta = _svm(X, y, "l2")
    y2 = y.copy()
    y2[:3] *= -1
    with pytest.raises(ValueError, match="3 of 12 training points are misclassified"):
        kc.bregman_proximity(theta, (X, y2), model=kc_models_linear(5), norm="l2")
    with pytest.raises(ValueError, match="theta = 0"):
        kc.dutta_proximity([torch.zeros(1, 5, dtype=torch.float64)], (X, y), model=kc_models_linear(5))
    with pytest.raises(ValueError, match="subgradient must be"):
        kc.dutta_proximity(theta, (X, y), model=kc_models_linear(5), subgradient="nearest")


def test_solver_failure_is_a_status_not_a_number(monkeypatch):
    X, y = _linear_data()
    theta = _svm(X, y, "l2")

    def boom(self, *a, **k):
        raise cp.error.SolverError("Solver 'CLARABEL' failed. Try another solver.")
    monkeypatch.setattr(cp.Problem, "solve", boom)
    r = kc.bregman_proximity(theta, (X, y), model=kc_models_linear(5), norm="l2")
    assert r.status == "solver_error" and "CLARABEL" in r.message
    assert not r.ok and math.isnan(r.value)


def test_kc_bregman_is_the_function():
    """kc.bregman is the divergence function (the module is kktcheck.divergence, so no name clash)."""
    import kktcheck.divergence as mod
    assert kc.bregman is mod.bregman
    u, theta = [torch.tensor([3.0, -1.0])], [torch.tensor([1.0, 2.0])]
    assert kc.bregman(u, theta, "l2") == pytest.approx(0.5 * (4 + 9))


@pytest.mark.parametrize("name", ["l1", "linf"])
def test_dutta_enlarged_relaxes_exact(name):
    """The eps-subdifferential contains the exact selection, so the enlarged measure is never larger."""
    X, y = _linear_data(seed=4)
    theta = _svm(X, y, name)
    theta = [theta[0] + 0.03 * theta[0].abs().max() * torch.linspace(-1, 1, 5, dtype=torch.float64)]
    model = kc_models_linear(5)
    ex = kc.dutta_proximity(theta, (X, y), model=model, norm=name, subgradient="exact")
    en = kc.dutta_proximity(theta, (X, y), model=model, norm=name)
    assert en.info["subgradient"] == "enlarged" and ex.ok and en.ok
    assert en.value <= ex.value * (1 + 1e-6) + 1e-9
    assert kc.bregman(en.h, [theta[0] / float(kc.sample_margins(theta, (X, y), model=model).min())], name) \
        <= en.value * (1 + 1e-6) + 1e-9   # h lies in the eps-subdifferential at theta~ (L = 1)


def test_proximity_time_limit_gives_a_status_never_a_value():
    """Resource limit (issue 12): the proximity programs take time_limit; reaching it is status 'user_limit' with
    NaN values, and the same call with room to finish is optimal (negative control)."""
    import warnings

    from kktcheck import reference as R
    p = R.two_layer_dead_neuron()
    for measure in (kc.bregman_proximity, kc.dutta_proximity):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)        # cvxpy: "Solution may be inaccurate"
            stopped = measure(p.model, p.data, norm="l2", time_limit=1e-9)
        assert stopped.status == "user_limit" and not stopped.ok and "time_limit" in stopped.message
        assert math.isnan(stopped.value)
        assert measure(p.model, p.data, norm="l2", time_limit=60).ok
    with pytest.raises(ValueError, match="time_limit must be"):
        kc.bregman_proximity(p.model, p.data, time_limit=0)


@pytest.mark.parametrize("measure", ["bregman_proximity", "dutta_proximity"])
def test_proximity_refuses_a_program_above_max_size_before_the_jacobian(measure, monkeypatch):
    import kktcheck.divergence as dv
    X = torch.randn(12, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w = torch.tensor([[1.0, 0.5, -0.2]], dtype=torch.float64)
    y = torch.sign(X @ w[0])

    def no_jacobian(*a, **k):
        raise AssertionError("the Jacobian was formed before the size check")
    monkeypatch.setattr(dv, "margins_and_jacobian", no_jacobian)
    with pytest.raises(ValueError, match="max_size"):
        getattr(kc, measure)([w], (X, y), model=torch.nn.Linear(3, 1, bias=False).double(), max_size=35)  # n P = 36
