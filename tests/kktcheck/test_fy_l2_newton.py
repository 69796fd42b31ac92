"""The l2 active-set Newton solver (kkt/fy_l2_newton.py, kkt/fy_l2_face.py, kkt/two_layer_gram.py) against the
generic cvxpy program (method="generic"), and the pieces it relies on.

* the structured Gram products equal G^T G z of the Combination (a wrong coefficient would show);
* on a seeded table of two-layer nets (exact Clarke set, default band, a band of radius 0.05 where many columns
  are free, n > d where a neuron's free columns are dependent) the default l2 path is the Newton solver (its
  message says so), agrees with the generic optimum to 1e-6 and closes the certified gap to 1e-8;
* a solver that returns a wrong point is caught by the certificate: the reported measure stays right and the
  message no longer claims the Newton solver;
* the face solve equals a dense solve of the same face system.
"""
import math

import numpy as np
import pytest

import kktcheck as kc
from kktcheck.kkt import fy_l2_newton
from kktcheck.kkt.combination import Combination
from kktcheck.kkt.fy_l2_face import FaceSolver
from kktcheck.kkt.two_layer_gram import TwoLayerGram
from kktcheck.reference import linear_max_margin
from kktcheck.testing.cases import kinked_two_layer

NEWTON = "active-set Newton"
TABLE = [(0, 8, 6, 7, 0.0), (1, 20, 5, 12, 1e-3), (2, 30, 10, 15, 0.05), (3, 20, 5, 12, 0.05),
         (4, 40, 3, 20, 0.05), (5, 60, 8, 10, 0.0)]


def _band_combination(seed, n, d, m, r):
    """(G, owner) of kc.residual's l2 measure program for a kinked two-layer net (captured from the call)."""
    from kktcheck.kkt import fy_working
    got = {}
    orig = fy_working.program

    def grab(nrm, theta, q, L, G, owner, *a, **kw):
        got.update(G=G, owner=owner)
        return orig(nrm, theta, q, L, G, owner, *a, **kw)
    net, data = kinked_two_layer(seed, n, d, m)
    fy_working.program = grab
    try:
        kc.residual(net, data, norm="l2", pair=False, clarke_radius=r)
    finally:
        fy_working.program = orig
    return got["G"], got["owner"]


@pytest.mark.parametrize("case", [(2, 30, 10, 15, 0.05), (4, 40, 3, 20, 0.3)])
def test_structured_gram_products_equal_the_combination(case):
    G, owner = _band_combination(*case)
    tl = TwoLayerGram.of(G, owner)
    assert tl is not None and tl.k == G.k and G.k > 0
    z = np.random.default_rng(0).random(G.n + G.k)
    want = G.rmatvec(G @ z)
    assert np.abs(tl.gram_times(z[:G.n], z[G.n:]) - want).max() <= 1e-12 * np.abs(want).max()
    tl.B.flat[np.abs(tl.B).argmax()] *= 1.001  # a wrong coefficient changes the product: the comparison can fail
    assert np.abs(tl.gram_times(z[:G.n], z[G.n:]) - want).max() > 1e-9 * np.abs(want).max()


def test_layout_check_refuses_a_wrong_band_column():
    G, owner = _band_combination(2, 30, 10, 15, 0.05)
    cols = G.cols.tocsc(copy=True)
    cols.data[cols.indptr[0]] += 1e-6 * np.abs(cols.data).max()
    assert TwoLayerGram.of(Combination(G.J0, cols, G.width, G.rank_one), owner) is None


@pytest.mark.parametrize("case", TABLE, ids=lambda c: f"seed{c[0]}-n{c[1]}-d{c[2]}-r{c[4]}")
def test_newton_equals_the_generic_program(case):
    seed, n, d, m, r = case
    net, data = kinked_two_layer(seed, n, d, m)
    fast = kc.residual(net, data, norm="l2", pair=False, clarke_radius=r)
    full = kc.residual(net, data, norm="l2", pair=False, clarke_radius=r, method="generic")
    assert full.status == "optimal" and NEWTON in fast.message
    assert fast.status == "optimal" and fast.measure - fast.measure_lower <= 1e-8
    assert abs(fast.measure - full.measure) <= 1e-6
    assert fast.measure_lower <= full.measure + 1e-8 <= fast.measure + 2e-8


def test_newton_at_and_near_a_kkt_point():
    """The linear l2 max-margin point: measure ~ 0 (KKT); the perturbed one needs anti-cycling single changes."""
    ref = linear_max_margin("l2")
    res = kc.residual(ref.model, ref.data, norm="l2", pair=False)
    assert NEWTON in res.message and res.measure <= 1e-10
    moved = linear_max_margin("l2", perturbed=True)
    fast = kc.residual(moved.model, moved.data, norm="l2", pair=False)
    full = kc.residual(moved.model, moved.data, norm="l2", pair=False, method="generic")
    assert NEWTON in fast.message and abs(fast.measure - full.measure) <= 1e-6 and fast.measure > 1e-3


def test_a_wrong_newton_point_is_caught_by_the_certificate(monkeypatch):
    net, data = kinked_two_layer(2, 30, 10, 15)
    full = kc.residual(net, data, norm="l2", pair=False, clarke_radius=0.05, method="generic")
    orig = fy_l2_newton.FaceNewton.run

    def wrong(self, max_steps=fy_l2_newton.MAX_STEPS):
        z = orig(self, max_steps)
        return None if z is None else 0.9 * z  # a feasible but not optimal point
    monkeypatch.setattr(fy_l2_newton.FaceNewton, "run", wrong)
    res = kc.residual(net, data, norm="l2", pair=False, clarke_radius=0.05)
    assert NEWTON not in res.message  # the certificate did not close: the conic working set took over
    assert abs(res.measure - full.measure) <= 1e-6


def test_face_solve_equals_a_dense_solve():
    G, owner = _band_combination(2, 30, 10, 15, 0.05)
    tl = TwoLayerGram.of(G, owner)
    rng = np.random.default_rng(1)
    A = np.flatnonzero(rng.random(tl.n) < 0.8)
    free = np.flatnonzero(np.isin(tl.owner, A))
    rhs_band = rng.standard_normal(tl.k)
    rhs_lam = rng.standard_normal((A.size, 2))
    yA, mu = FaceSolver(tl, rhs_band).solve(A, tl.B, free, rhs_lam)
    H = G.gram()
    idx = np.concatenate([A, tl.n + free])
    rhs = np.vstack([rhs_lam, np.column_stack([rhs_band[free], np.zeros(free.size)])])
    want = np.linalg.solve(H[np.ix_(idx, idx)], rhs)
    got = np.vstack([yA, mu])
    assert np.abs(got - want).max() <= 1e-8 * max(1.0, np.abs(want).max())
    assert math.isfinite(float(got.sum()))


def test_newton_respects_the_time_limit():
    """No face step starts after the deadline: a tiny time_limit gives status time_limit, never a verdict of
    "approximately KKT" from an unfinished solve."""
    net, data = kinked_two_layer(2, 30, 10, 15)
    res = kc.residual(net, data, norm="l2", pair=False, clarke_radius=0.05, time_limit=1e-4)
    assert res.status == "time_limit" and NEWTON not in res.message
    assert not res.verdict(1e-3).startswith("approximately")
