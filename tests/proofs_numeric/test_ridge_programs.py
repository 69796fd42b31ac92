"""The ridge step's programs (flow.ridge, flow.ridge_l2, flow.ridge_lp): maximize min_i q_i + J_i D over ||D|| <= r.
Every fast path is compared with an independent reference: the full LP over all P coordinates (l1, linf; HiGHS on
the program scaled to entries <= 1, tolerances 1e-10) and bisection on the level t of the minimum-norm NNLS step
(l2), to 1e-9 relative, on random programs and on the programs the integrator solves on a ReLU net."""
import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq, linprog, nnls

from proofs_numeric import models
from proofs_numeric.datasets import teacher_student
from proofs_numeric.flow import RidgeStep, integrate
from proofs_numeric.flow import late_phase
from proofs_numeric.flow.ridge import reachable, ridge_step
from proofs_numeric.flow.ridge_l2 import solve_l2

REL = 1e-9


def full_lp_value(q, J, r, norm):
    """max_{||D|| <= r} min_i q_i + J_i D over all P coordinates in one LP (l1: D = u - v, u, v >= 0), scaled."""
    s = r * float(np.abs(J).max())
    qs, Js = q / s, J * (r / s)
    k, P = J.shape
    opts = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
    if norm == "linf":
        res = linprog(np.r_[np.zeros(P), -1.0], A_ub=np.hstack([-Js, np.ones((k, 1))]), b_ub=qs,
                      bounds=[(-1, 1)] * P + [(None, None)], method="highs-ds", options=opts)
    else:
        A = np.vstack([np.hstack([-Js, Js, np.ones((k, 1))]), np.r_[np.ones(2 * P), 0.0]])
        res = linprog(np.r_[np.zeros(2 * P), -1.0], A_ub=A, b_ub=np.r_[qs, 1.0],
                      bounds=[(0, None)] * (2 * P) + [(None, None)], method="highs-ds", options=opts)
    assert res.status == 0, res.message
    return -res.fun * s


def l2_bisection_value(q, J, r):
    """The l2 optimum by Brent's method on ||D(t)|| = r, D(t) = J^T lam(t), lam(t) = NNLS with K = J J^T."""
    K = J @ J.T
    C = np.linalg.cholesky(K + 1e-14 * np.trace(K) / K.shape[0] * np.eye(K.shape[0]))

    def norm_at(t):
        lam = nnls(C.T, np.linalg.solve(C, t - q))[0]
        return math.sqrt(max(lam @ K @ lam, 0.0))

    lo, hi = q.min(), q.min() + r * np.linalg.norm(J, axis=1).max()
    return brentq(lambda t: norm_at(t) - r, lo, hi, xtol=1e-15 * max(1.0, abs(hi)), rtol=1e-15)


def reference(q, J, r, norm):
    return l2_bisection_value(q, J, r) if norm == "l2" else full_lp_value(q, J, r, norm)


def random_program(seed, k=15, P=1000, scale=1.0, ties=False, offset=0.0):
    rng = np.random.default_rng(seed)
    J = rng.normal(size=(k, P)) * scale
    q = offset + rng.uniform(0, 1, k) * scale
    if ties:                                 # tied margins and a duplicated row: degenerate vertices
        q[:4] = q.min()
        J[1] = J[0]
    return q, J


@pytest.mark.parametrize("norm", ["l1", "l2", "linf"])
@pytest.mark.parametrize("seed,scale,ties,offset", [(0, 1.0, False, 0.0), (1, 1e-4, False, 0.0), (2, 1e3, True, 0.0),
                                                   (3, 1.0, True, 0.0), (4, 1e-5, False, 0.3)])
def test_ridge_step_value_equals_the_independent_reference(norm, seed, scale, ties, offset):
    q, J = random_program(seed, scale=scale, ties=ties, offset=offset)
    r = 0.05
    sol = ridge_step(q, J, r, norm)
    ref = reference(q, J, r, norm)
    assert sol.value == pytest.approx(ref, rel=REL, abs=REL * abs(q).max())
    size = {"l1": np.abs(sol.D).sum(), "l2": np.linalg.norm(sol.D), "linf": np.abs(sol.D).max()}[norm]
    assert size <= r * (1 + 1e-12)
    assert sol.value == pytest.approx(float((q + J @ sol.D).min()), rel=1e-12)
    assert sol.gap <= REL * max(abs(sol.value), 1e-300)


@pytest.mark.parametrize("norm", ["l1", "linf"])
@pytest.mark.parametrize("seed", [0, 1])
def test_lp_steps_are_exact_when_the_gain_is_tiny_against_the_margin(norm, seed):
    """Margins 0.3 + O(1e-6), entries of J from 1e-7 to 1e-5 (a late-phase step in normalized units): the programs
    are scaled to entries <= 1 before HiGHS sees them. Unscaled, with HiGHS's default tolerances 1e-7, the values
    were off by up to 2.9e-7 relative on such programs."""
    rng = np.random.default_rng(seed)
    J = rng.normal(size=(40, 1500)) * 1e-5 * rng.uniform(0.01, 1, 1500)
    q = 0.3 + rng.uniform(0, 1e-6, 40)
    sol = ridge_step(q, J, 0.05, norm)
    assert sol.value == pytest.approx(q.min() + full_lp_value(q - q.min(), J, 0.05, norm), rel=REL)


@pytest.mark.parametrize("seed", range(4))
def test_l2_piece_newton_equals_bisection_from_any_start_and_in_its_fallback(seed):
    """solve_l2 from a good start, from the worst start (t_low = min q) and with no Newton pieces (Brent only)."""
    q, J = random_program(10 + seed, k=30, P=120, ties=seed % 2 == 1)
    K, r = J @ J.T, 0.3
    ref = l2_bisection_value(q, J, r)
    for t_low, pieces in ((ref - 1e-3, 8), (q.min(), 8), (q.min(), 0)):
        t, lam = solve_l2(K, q, r, t_low, max_pieces=pieces)
        assert t == pytest.approx(ref, rel=REL) and lam.min() >= 0
        assert math.sqrt(lam @ K @ lam) == pytest.approx(r, rel=1e-9)


def _integrator_programs(norm, every=4):
    """The (q, J, r, w0, cols0) of the ridge programs an integrator run solves (teacher-student, d=10, n=32,
    width 20, to log10 L = -1e3 with RidgeStep(0.1): kink cuts included)."""
    X, y, _, _ = teacher_student(10, 32, k_star=3, active=3, seed=0)
    model = models.TwoLayerReLU(10, 20)
    th0 = model.init(0.1, torch.Generator().manual_seed(0))
    seen = []

    def spy(q, J, r, norm_name, w0=None, cols0=None):
        seen.append((np.array(q), np.array(J), r, None if w0 is None else np.array(w0), cols0))
        return ridge_step(q, J, r, norm_name, w0, cols0)

    patch = pytest.MonkeyPatch()
    patch.setattr(late_phase, "ridge_step", spy)
    try:
        tr = integrate(model, th0, (X, y), norm=norm, step=RidgeStep(0.1), target_log_loss=-1e3 * math.log(10),
                       max_steps=400, margin_norms=())
    finally:
        patch.undo()
    assert tr.status == "success" and len(seen) >= 8
    return seen[::every]


@pytest.mark.parametrize("norm", ["l1", "l2", "linf"])
def test_programs_from_an_integrator_run_are_solved_to_their_optimum(norm):
    for q, J, r, w0, cols0 in _integrator_programs(norm):
        keep = reachable(q, J, r, norm)
        ref = float(q[keep].min()) + reference(q[keep] - q[keep].min(), J[keep], r, norm)
        for start in ((w0, cols0), (None, None)):          # warm start and cold start: the same optimum
            sol = ridge_step(q, J, r, norm, *start)
            assert sol.value == pytest.approx(ref, rel=REL)
