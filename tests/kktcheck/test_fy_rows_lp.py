"""The HiGHS row program of the l1 working set (kkt/fy_rows_lp.py) and the column folding it relies on
(kkt/fy_restrict.py), on synthetic constraint data (random dense J0, sparse band columns with owners and widths).

* with every row in S the LP (tangent cuts for 1/2 s^2) is the restricted program itself: its optimum equals the
  same program written in cvxpy and solved by Clarabel, to 1e-7 (a wrong cut, sign or band row moves it);
* its multipliers give the weak-duality bound LB(t, v) of kkt/fy_dual.py at the optimum (a wrong dual sign
  leaves a gap);
* ``fold_vector`` of c = G^T x / L equals the restricted Combination's G_r^T x / L, and the incremental fold kept
  between rounds equals a fresh one after sides change (a dropped term or a stale column fails);
* G^T v read on the support of a sparse v (the l1 dual vector) equals the dense product;
* the rounds sent to cvxpy/Clarabel (many band columns in W) agree with the generic program.
"""
import numpy as np
import pytest
from scipy import sparse

from kktcheck.kkt import fy_dual, fy_restrict, fy_rows_lp
from kktcheck.kkt.combination import Combination


def _data(seed, n=6, P=40, k=8):
    """Rows J0_i with <J0_i, x> near 2 (as Euler's identity <k_i, theta~> = L q_i gives), small band columns."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(P)
    J0 = 0.1 * rng.standard_normal((n, P)) + np.outer(np.full(n, 2.0), x) / (x @ x)
    cols = 0.3 * sparse.random(P, k, density=0.3, random_state=seed, format="csc")
    owner = rng.integers(0, n, size=k)
    width = rng.uniform(0.2, 1.0, size=k)
    q = 1.0 + rng.uniform(0.0, 0.5, size=n)
    q[0] = 1.0
    return Combination(J0, cols, width), owner, x, q


def _cvxpy_value(fam, G, owner, scale, c, q, kc):
    import cvxpy as cp
    n, k = G.n, G.k
    z = cp.Variable(n + k, nonneg=True)
    t, s = cp.Variable(), cp.Variable(nonneg=True)
    r = scale * (G.matrix() @ z)
    cons = [t >= 0.5 + 0.5 * cp.square(s) - c @ z, t >= (q - 1.0) @ z[:n], kc @ z[:n] <= 2.0,
            z[n:] <= cp.multiply(G.width, z[:n][owner]), s >= (cp.norm_inf(r) if fam == "l1" else cp.norm1(r))]
    prob = cp.Problem(cp.Minimize(t), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return prob.value


@pytest.mark.parametrize("fam", ["l1"])  # linf: tests/kktcheck/test_fy_linf_cuts.py
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_row_lp_equals_the_conic_program(fam, seed):
    G, owner, x, q = _data(seed)
    L = 2
    scale = (np.abs(x).sum() if fam == "l1" else np.abs(x).max()) / L  # rho / L, rho the primal norm of x
    c = G.rmatvec(x) / L
    kc = fy_dual.kappa(c, G.n, owner, G.width)
    assert kc.min() > 0  # every multiplier capped: the weak-duality bound below is finite
    S = np.arange(G.J0.shape[1])
    out = fy_rows_lp.rows_program(G, owner, scale, c, q, kc, S)
    assert out["status"] == "optimal"
    ref = _cvxpy_value(fam, G, owner, scale, c, q, kc)
    assert 0.25 < ref < 0.45  # neither 0 nor the lambda = 0 value 1/2
    assert abs(out["value"] - ref) <= 1e-7
    z = out["z"]
    r = scale * (G @ z)
    N = np.abs(r).max() if fam == "l1" else np.abs(r).sum()
    true = max(0.5 + 0.5 * N ** 2 - c @ z, (q - 1.0) @ z[:G.n])  # the LP's point, valued exactly
    assert abs(true - ref) <= 1e-7
    assert np.all(z[G.n:] <= G.width * z[:G.n][owner] + 1e-9)
    gt = np.concatenate([q - 1.0, np.zeros(G.k)])
    v = out["v"]
    lb = fy_dual.LowerBound(scale * G.rmatvec(v) - c, np.abs(v).sum() if fam == "l1" else np.abs(v).max(),
                            c, gt, G.n, owner, G.width)
    assert lb.best(out["hint"])[1] >= ref - 1e-6  # the LP's multipliers certify its own optimum


@pytest.mark.parametrize("seed", [0, 3])
def test_fold_vector_and_incremental_fold_match_a_fresh_restriction(seed):
    G, owner, x, _ = _data(seed, k=9)
    rng = np.random.default_rng(seed)
    fold = {}
    for _ in range(3):  # sides and W change between rounds, as in the working set
        side = (rng.random(G.k) < 0.5).astype(float)
        W = np.flatnonzero(rng.random(G.k) < 0.3)
        Gr, ow = fy_restrict.restrict(G, owner, side, W, fold)
        fresh, _ = fy_restrict.restrict(G, owner, side, W)
        assert np.allclose(Gr.J0, fresh.J0, rtol=0, atol=1e-12) and np.array_equal(ow, owner[W])
        c_r = fy_restrict.fold_vector(G.rmatvec(x), G.n, owner, G.width, side, W)
        assert np.allclose(c_r, fresh.rmatvec(x), rtol=1e-12, atol=1e-12)
    assert side.any() and not np.allclose(fresh.J0, G.J0)  # some column was folded: the check can fail


def test_rmatvec_reads_only_the_support_of_a_sparse_vector_and_agrees():
    G, _, x, _ = _data(5)
    v = np.zeros_like(x)
    v[[3, 17, 30]] = x[[3, 17, 30]]  # fewer than a quarter non-zero: the support path
    dense = np.concatenate([G.J0 @ v, G.cols.T @ v])
    assert np.allclose(G.rmatvec(v), dense, rtol=1e-14, atol=1e-14)
    assert np.allclose(G.rmatvec(x), np.concatenate([G.J0 @ x, G.cols.T @ x]), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("norm", ["l1"])
def test_clarabel_rounds_for_large_working_sets_agree_with_the_generic_program(monkeypatch, norm):
    """Rounds with many band columns in W go to the cvxpy/Clarabel row program (fy_working.CLARABEL_FROM); forced
    for every round here, the measure still equals the generic program's and its lower bound stays below it.
    (l1 only: linf has its own program, kkt/fy_linf_cuts.py, with every column in one HiGHS model.)"""
    import sys

    import kktcheck as kc
    from kktcheck.testing.cases import kinked_two_layer
    fw = sys.modules["kktcheck.kkt.fy_working"]
    used = []
    original = fy_restrict.rows_program
    monkeypatch.setattr(fw, "CLARABEL_FROM", -1.0)
    monkeypatch.setattr(fy_restrict, "rows_program", lambda *a, **k: used.append(1) or original(*a, **k))
    net, data = kinked_two_layer(1, 20, 5, 12)
    fast = kc.residual(net, data, norm=norm, pair=False, clarke_radius=0.05)
    full = kc.residual(net, data, norm=norm, pair=False, clarke_radius=0.05, method="generic")
    assert used and full.status == "optimal" and fast.status == "optimal"
    assert abs(fast.measure - full.measure) <= 1e-6 and fast.measure_lower <= full.measure + 1e-8
