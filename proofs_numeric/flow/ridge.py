"""The late-phase ridge step: the linearized implicit steepest step in the limit of a sharp loss.

Late in training log L = -min_i q_i + O(log n): the flow slides along the ridge where several margins q_i
tie, with softmax weights w = softmax(-q) balancing the tied gradients. An explicit step uses the weights at
the START of the step and overshoots the ridge once it moves q by more than O(1). The implicit step uses the
weights at the END; with the margins linearized at theta (q + J D, J_i = grad q_i) and the loss temperature
small against the step (the stiff regime) it is

    (R)   maximize_{||D|| <= r}  min_i ( q_i + J_i D )      (r = h ||theta||, the relative step),

whose dual is min_{w in simplex} <w, q> + r ||J^T w||_*  (weights w: the end-of-step softmax weights in the
sharp limit). An optimal pair satisfies D = r dualize(J^T w), which is theta_+ = theta - ds ||G_+||_*
dualize(G_+) with G_+ = -J^T w: an implicit Euler step of the steepest flow. The dual gap
<w, q> + r ||J^T w||_* - min_i(q_i + J_i D) >= 0 certifies a returned step.

Solvers (exact for the linearized problem; n constraints, P parameters, n << P):
* linf: D_j = r sign((J^T w)_j) except on a small set F of coordinates whose sign is undecided. The LP is
  solved over F only (HiGHS, n rows, |F| ~ 2n columns) and F grows by the coordinates whose reduced cost
  (the sign of (J^T w)_j) contradicts their fixed bound, until none does: then D is optimal for the full LP.
  The rounds share one HiGHS model, warm-started from the previous basis (``flow.ridge_lp.ColumnLP``).
  Coordinates with J_{:,j} = 0 keep D_j = 0 (the flow's selection sign(0) = 0).
* l1: D is supported on the coordinates where |(J^T w)_j| is maximal (the convex hull of coordinate steps).
  The LP runs over a candidate set F (largest |(J^T w)_j|) and grows F by the coordinates whose |(J^T w)_j|
  exceeds the budget's dual price, until none does.
* l2: D = J^T lam with lam >= 0 the NNLS solution of the minimum-norm step reaching a level t, and t set by
  Brent's method so that ||D|| = r (exact to rounding).
Other norms have no ridge solver here; ``RidgeStep`` then falls back to explicit relative steps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import brentq, nnls

from .ridge_lp import ColumnLP

NORMS = ("l1", "l2", "linf")


@dataclass
class Ridge:
    D: np.ndarray        # the step, ||D|| <= r
    value: float         # predicted min_i (q_i + J_i D)
    w: np.ndarray        # dual weights (end-of-step softmax weights in the sharp limit)
    gap: float           # dual value - value >= 0 (0 up to the solver's tolerance: D is optimal)
    rounds: int          # LPs solved (column-generation rounds); 0 for l2
    columns: np.ndarray = None   # linf: coordinates strictly inside (-r, r); l1: the support of D (warm start)


def _grow(F, score, cap):
    """Add to F the (at most cap) outside coordinates with the largest positive score; return them."""
    cand = np.flatnonzero(~F & (score > 0))
    if cand.size > cap:
        cand = cand[np.argsort(-score[cand])[:cap]]
    F[cand] = True
    return cand


def ridge_linf(q, J, r, w0, cols0=None, max_rounds=40) -> Ridge:
    k, P = J.shape
    z = J.T @ w0
    live = np.abs(J).max(axis=0) > 0
    sig = np.where(z >= 0, 1.0, -1.0) * live
    F = np.zeros(P, bool)
    F[np.argsort(np.abs(z) / np.where(live, np.abs(J).max(axis=0), 1.0))[:min(P, 2 * k)]] = True
    if cols0 is not None:
        F[cols0] = True                       # the previous step's undecided coordinates (they change slowly)
    F &= live
    cols = np.flatnonzero(F)
    fixed = r * (J[:, ~F] @ sig[~F])
    lp = ColumnLP(q + fixed)
    lp.add(J[:, cols], -r, r)
    tol = 1e-12 * max(float(np.abs(J).max()), 1e-300)
    for rnd in range(1, max_rounds + 1):
        x, t, w, _ = lp.solve()
        z = J.T @ w
        wrong = -sig * z * (~F) * live          # > 0 where the fixed sign contradicts the reduced cost
        wrong[np.abs(z) <= tol] = 0.0
        if not (wrong > 0).any() or rnd == max_rounds:
            D = r * sig
            D[cols] = x
            return _certify(q, J, r, D, w, np.abs(z).sum(), rnd, cols[np.abs(x) < r * (1 - 1e-9)])
        new = _grow(F, wrong, 2 * k)
        fixed -= r * (J[:, new] @ sig[new])     # the new columns leave the fixed part ...
        lp.set_rhs(q + fixed)
        lp.add(J[:, new], -r, r)                # ... and join the program
        cols = np.concatenate([cols, new])
    raise AssertionError("unreachable")


def ridge_l1(q, J, r, w0, cols0=None, max_rounds=40) -> Ridge:
    k, P = J.shape
    a = np.abs(J.T @ w0)
    F = np.zeros(P, bool)
    F[np.argsort(-a)[:min(P, 2 * k)]] = True
    if cols0 is not None:
        F[cols0] = True                       # the previous step's candidate coordinates
    cols = np.flatnonzero(F)
    lp = ColumnLP(q, budget=r)
    lp.add(np.hstack([J[:, cols], -J[:, cols]]), 0.0, None)
    blocks = [cols]
    for rnd in range(1, max_rounds + 1):
        x, t, w, price = lp.solve()
        a = np.abs(J.T @ w)
        excess = (a - price * (1 + 1e-9)) * (~F)
        if not (excess > 0).any() or rnd == max_rounds:
            D = np.zeros(P)
            pos = 0
            for blk in blocks:                  # columns were added as [J_B, -J_B] per block B
                D[blk] += x[pos:pos + blk.size] - x[pos + blk.size:pos + 2 * blk.size]
                pos += 2 * blk.size
            return _certify(q, J, r, D, w, a.max(), rnd, np.flatnonzero(D))
        new = _grow(F, excess, 2 * k)
        lp.add(np.hstack([J[:, new], -J[:, new]]), 0.0, None)
        blocks.append(new)
    raise AssertionError("unreachable")


def ridge_l2(q, J, r, w0, cols0=None) -> Ridge:
    """l2: for a level t the smallest step reaching min_i(q_i + J_i D) >= t is D(t) = J^T lam(t), lam(t) the
    non-negative least-squares solution of min_{lam >= 0} 1/2 lam^T K lam - lam.(t - q) (K = J J^T, an NNLS
    problem in the k points); ||D(t)|| increases with t, and Brent's method finds the level with ||D(t)|| = r.
    The weights are w = lam / sum(lam)."""
    qk, Jk = q, J          # (already restricted to the reachable points by ridge_step)
    K = Jk @ Jk.T
    L = np.linalg.cholesky(K + 1e-14 * np.trace(K) / K.shape[0] * np.eye(K.shape[0]))

    def step(t):
        return nnls(L.T, solve_triangular(L, t - qk, lower=True))[0]

    def excess(t):  # ||J^T lam|| - r, with ||J^T lam||^2 = lam^T K lam (no P-sized work)
        lam = step(t)
        return float(np.sqrt(max(lam @ K @ lam, 0.0))) - r

    lo = float(qk.min())
    hi = lo + r * float(np.linalg.norm(Jk, axis=1).max()) + 1e-300
    t = brentq(excess, lo, hi, xtol=1e-15 * max(1.0, abs(hi)), rtol=4 * np.finfo(float).eps) if excess(hi) > 0 else hi
    lam = step(t)
    D = Jk.T @ lam
    n = float(np.linalg.norm(D))
    D = D * (r / n) if n > 0 else D
    w = lam / lam.sum() if lam.sum() > 0 else np.full(q.size, 1.0 / q.size)
    return _certify(q, J, r, D, w, float(np.linalg.norm(J.T @ w)), 0)


def _certify(q, J, r, D, w, dual_norm, rounds, columns=None) -> Ridge:
    value = float((q + J @ D).min())
    return Ridge(D, value, w, max(float(w @ q) + r * dual_norm - value, 0.0), rounds, columns)


SOLVERS = {"l1": ridge_l1, "l2": ridge_l2, "linf": ridge_linf}


DUAL_ROW_NORMS = {"l1": lambda J: np.abs(J).max(axis=1), "l2": lambda J: np.linalg.norm(J, axis=1),
                  "linf": lambda J: np.abs(J).sum(axis=1)}


def reachable(q, J, r, norm_name):
    """Points that can be the minimum after a step ||D|| <= r: q_i - r ||J_i||_* <= q_m + r ||J_m||_* for the
    current argmin m. The others satisfy q_i + J_i D > q_m + J_m D for every such D, so dropping them from
    (R) changes nothing (an exact reduction)."""
    dn = DUAL_ROW_NORMS[norm_name](J)
    m = int(np.argmin(q))
    return np.flatnonzero(q - r * dn <= q[m] + r * dn[m])


def ridge_step(q, J, r, norm_name, w0=None, cols0=None) -> Ridge:
    """Solve (R) for norm l1, l2 or linf. q: (n,), J: (n, P), r > 0; w0 (n,) warm-starts the weights, cols0 (indices
    into the P coordinates, e.g. the previous step's ``columns``) the l1/linf working set; neither changes the
    optimum, only how fast it is found.
    The returned weights ``w`` have length n (0 for the points that cannot reach the minimum)."""
    q = np.asarray(q, dtype=np.float64)
    keep = reachable(q, J, r, norm_name)
    qk, Jk = q[keep] - float(q[keep].min()), np.asarray(J[keep], dtype=np.float64)
    w0k = None if w0 is None or np.asarray(w0).shape != q.shape else np.asarray(w0, dtype=np.float64)[keep]
    if w0k is None or not w0k.sum() > 0:
        w0k = np.exp(-qk / max(float(np.ptp(qk)), 1e-300))
    w0k = w0k / w0k.sum()
    res = SOLVERS[norm_name](qk, Jk, float(r), w0k, cols0)
    res.value += float(q[keep].min())
    w = np.zeros_like(q)
    w[keep] = res.w
    res.w = w
    return res
