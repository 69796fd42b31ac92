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

Solvers (exact for the linearized problem; n constraints, P parameters, n << P), all run on the program scaled
to entries <= 1 ((R) is homogeneous: (q, J, r) -> (q / s, J r / s, 1) with s = r max|J_ij|, D = r D'):
* linf: D_j = r sign((J^T w)_j) except on a set F of coordinates whose sign is undecided. The LP is solved over
  F only (HiGHS, n rows; F starts with the 12n coordinates of smallest |(J^T w0)_j| / max_i |J_ij| and the
  previous step's fractional ones) and F grows (by at most 4n a round) by the coordinates whose reduced cost
  (the sign of (J^T w)_j) contradicts their fixed bound, until none does: then D is optimal for the full LP.
  The rounds share one HiGHS model, warm-started from the previous basis (``flow.ridge_lp.ColumnLP``).
  Coordinates with J_{:,j} = 0 keep D_j = 0 (the flow's selection sign(0) = 0).
* l1: D is supported on the coordinates where |(J^T w)_j| is maximal (the convex hull of coordinate steps).
  The LP runs over a candidate set F (the 2n largest |(J^T w0)_j| and the previous support) and grows F by the
  coordinates whose |(J^T w)_j| exceeds the budget's dual price, until none does.
* l2: D = J^T lam with lam >= 0 the NNLS solution of the minimum-norm step reaching a level t, the level with
  ||D(t)|| = r found by Newton's method over the pieces of ||D(t)|| (``flow.ridge_l2``; exact to rounding).
* spectral (max over blocks of sigma_max(D_b), ``kc.norm("spectral")``): the cone program of ``flow.ridge_spectral``
  over each block compressed to the spans of its rows (cvxpy + Clarabel, compiled once per (n, compressed shapes);
  programs beyond ``ridge_spectral.MAX_ENTRIES`` raise RuntimeError); it needs the block shapes (``shapes=``).
Other norms have no ridge solver here; ``RidgeStep`` then falls back to explicit relative steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from .ridge_l2 import solve_l2
from .ridge_lp import ColumnLP
from .ridge_spectral import nuclear_row_norms, solve_spectral

NORMS = ("l1", "l2", "linf", "spectral")
# Working-set sizes of the column generation, in multiples of k (the number of reachable points): the first LP's
# columns and the most added per round. Measured on the teacher-student benchmark's recorded linf steps (k = 64,
# P = 5100): starting with 12k columns and adding up to 4k per round takes 3.0 LP rounds and 586 simplex
# iterations per step instead of 7.9 and 920 (2k, 2k), 0.6-0.8x the CPU time; 8k-24k starts were no faster
# (fewer rounds, dearer iterations). For l1, starts of 0.5k-4k columns took the same time within the noise.
LINF_START, LINF_GROW = 12, 4
L1_START, L1_GROW = 2, 2


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
    colmax = np.abs(J).max(axis=0)
    live = colmax > 0
    sig = np.where(z >= 0, 1.0, -1.0) * live
    F = np.zeros(P, bool)
    F[np.argsort(np.abs(z) / np.where(live, colmax, 1.0))[:min(P, LINF_START * k)]] = True
    if cols0 is not None:
        F[cols0] = True                       # the previous step's undecided coordinates (they change slowly)
    F &= live
    cols = np.flatnonzero(F)
    fixed = J @ (r * sig * ~F)                # the fixed coordinates' contribution (no copy of J[:, ~F])
    lp = ColumnLP(q + fixed)
    lp.add(J[:, cols], -r, r)
    tol = 1e-12 * max(float(colmax.max()), 1e-300)
    for rnd in range(1, max_rounds + 1):
        x, t, w, _ = lp.solve()
        z = J.T @ w
        wrong = -sig * z * (~F) * live          # > 0 where the fixed sign contradicts the reduced cost
        wrong[np.abs(z) <= tol] = 0.0
        if not (wrong > 0).any() or rnd == max_rounds:
            D = r * sig
            D[cols] = np.clip(x, -r, r)           # HiGHS keeps bounds to its tolerance; the step stays feasible
            return _certify(q, J, r, D, w, np.abs(z).sum(), rnd, cols[np.abs(x) < r * (1 - 1e-9)])
        new = _grow(F, wrong, LINF_GROW * k)
        fixed -= r * (J[:, new] @ sig[new])     # the new columns leave the fixed part ...
        lp.set_rhs(q + fixed)
        lp.add(J[:, new], -r, r)                # ... and join the program
        cols = np.concatenate([cols, new])
    raise AssertionError("unreachable")


def ridge_l1(q, J, r, w0, cols0=None, max_rounds=40) -> Ridge:
    k, P = J.shape
    a = np.abs(J.T @ w0)
    F = np.zeros(P, bool)
    F[np.argsort(-a)[:min(P, int(L1_START * k))]] = True
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
            D *= min(1.0, r / max(float(np.abs(D).sum()), 1e-300))   # feasible: ||D||_1 <= r despite tolerances
            return _certify(q, J, r, D, w, a.max(), rnd, np.flatnonzero(D))
        new = _grow(F, excess, int(L1_GROW * k))
        lp.add(np.hstack([J[:, new], -J[:, new]]), 0.0, None)
        blocks.append(new)
    raise AssertionError("unreachable")


def ridge_l2(q, J, r, w0, cols0=None) -> Ridge:
    """l2: D = J^T lam with lam >= 0 the minimum-norm step reaching the optimal level t, found by Newton's method
    over the pieces of ||D(t)|| (``flow.ridge_l2``); the start is the level of the step r J^T w0 / ||J^T w0||
    (feasible, so a lower bound of the optimum). The weights are w = lam / sum(lam)."""
    K = J @ J.T                # (J already restricted to the reachable points by ridge_step)
    Kw = K @ w0
    n0 = float(np.sqrt(max(w0 @ Kw, 0.0)))
    t_low = float((q + Kw * (r / n0)).min()) if n0 > 0 else float(q.min())
    t, lam = solve_l2(K, q, r, t_low)
    D = J.T @ lam
    n = float(np.sqrt(max(lam @ K @ lam, 0.0)))
    D = D * (r / n) if n > 0 else D
    w = lam / lam.sum() if lam.sum() > 0 else np.full(q.size, 1.0 / q.size)
    return _certify(q, J, r, D, w, float(np.sqrt(max(w @ K @ w, 0.0))))


def ridge_spectral(q, J, r, w0=None, cols0=None, *, shapes) -> Ridge:
    """Layer-wise spectral norm: the cone program of ``flow.ridge_spectral`` (one solve; w0, cols0 unused)."""
    D, w, dual_norm = solve_spectral(q, J, r, shapes)
    return _certify(q, J, r, D, w, dual_norm, rounds=1)


def _certify(q, J, r, D, w, dual_norm, rounds=0, columns=None) -> Ridge:
    """The value min_i(q_i + J_i D) of the returned step and its duality gap <w, q> + r ||J^T w||_* - value, with
    w normalized to the simplex (a dual-feasible point, so the gap bounds the suboptimality)."""
    value = float((q + J @ D).min())
    total = float(w.sum())
    if total > 0 and total != 1.0:
        w, dual_norm = w / total, dual_norm / total
    return Ridge(D, value, w, max(float(w @ q) + r * dual_norm - value, 0.0), rounds, columns)


SOLVERS = {"l1": ridge_l1, "l2": ridge_l2, "linf": ridge_linf}


DUAL_ROW_NORMS = {"l1": lambda J: np.abs(J).max(axis=1), "l2": lambda J: np.sqrt(np.einsum("ij,ij->i", J, J)),
                  "linf": lambda J: np.abs(J).sum(axis=1)}


def reachable(q, J, r, norm_name, shapes=None):
    """Points that can be the minimum after a step ||D|| <= r: q_i - r ||J_i||_* <= q_m + r ||J_m||_* for the
    current argmin m. The others satisfy q_i + J_i D > q_m + J_m D for every such D, so dropping them from
    (R) changes nothing (an exact reduction)."""
    dn = nuclear_row_norms(J, shapes) if norm_name == "spectral" else DUAL_ROW_NORMS[norm_name](J)
    m = int(np.argmin(q))
    return np.flatnonzero(q - r * dn <= q[m] + r * dn[m])


def ridge_step(q, J, r, norm_name, w0=None, cols0=None, shapes=None) -> Ridge:
    """Solve (R) for norm l1, l2, linf or spectral. q: (n,), J: (n, P), r > 0; w0 (n,) warm-starts the weights, cols0
    (indices into the P coordinates, e.g. the previous step's ``columns``) the l1/linf working set; neither changes
    the optimum, only how fast it is found. shapes: the parameter blocks' shapes (spectral only; J's columns are the
    blocks flattened row-major in order).
    The returned weights ``w`` have length n (0 for the points that cannot reach the minimum)."""
    q, J = np.asarray(q, dtype=np.float64), np.asarray(J, dtype=np.float64)
    if norm_name == "spectral" and shapes is None:
        raise ValueError("ridge_step: the spectral norm needs the parameter blocks' shapes (shapes=[p.shape, ...])")
    keep = reachable(q, J, r, norm_name, shapes)
    qk, Jk = q[keep] - float(q[keep].min()), (J[keep] if keep.size < q.size else J)
    w0k = None if w0 is None or np.asarray(w0).shape != q.shape else np.asarray(w0, dtype=np.float64)[keep]
    if w0k is None or not w0k.sum() > 0:
        w0k = np.exp(-qk / max(float(np.ptp(qk)), 1e-300))
    w0k = w0k / w0k.sum()
    # (R) is positively homogeneous: for s > 0 its solution for (q, J, r) is D = r D', value = s value', with
    # (D', value') the solution for (q / s, J r / s, 1). With s = r max|J_ij| the solvers see entries of size <= 1,
    # so HiGHS's absolute tolerances act relative to the step's gain (unscaled, recorded benchmark l1 steps were off
    # their optimum by up to 4e-9 relative, and by 6.5e-5 when started from a smaller working set).
    jmax = max(float(Jk.max()), -float(Jk.min())) if Jk.size else 0.0
    s = float(r) * jmax if jmax > 0 else 1.0
    solver = partial(ridge_spectral, shapes=shapes) if norm_name == "spectral" else SOLVERS[norm_name]
    res = solver(qk / s, Jk * (float(r) / s), 1.0, w0k, cols0)    # one scaled copy of J
    res.D, res.value, res.gap = res.D * float(r), res.value * s + float(q[keep].min()), res.gap * s
    w = np.zeros_like(q)
    w[keep] = res.w
    res.w = w
    return res
