"""The l2 ridge step: maximize min_i (q_i + J_i D) over ||D||_2 <= r, by its level t.

For a level t the smallest step reaching min_i(q_i + J_i D) >= t is D(t) = J^T lam(t), with lam(t) >= 0 the
non-negative least-squares solution of  min_{lam >= 0} 1/2 lam^T K lam - lam^T (t 1 - q)  (K = J J^T, k x k).
||D(t)|| is non-decreasing in t, and the optimum is the level with ||D(t)|| = r. On a stretch of levels where the
active set S = {i : lam_i(t) > 0} does not change, lam is affine in t and the norm is a quadratic:

    lam_S(t) = K_SS^{-1} (t 1 - q_S),    ||D(t)||^2 = lam^T K lam = a t^2 - 2 b t + c,
    a = 1^T K_SS^{-1} 1,  b = 1^T K_SS^{-1} q_S,  c = q_S^T K_SS^{-1} q_S.

``piece_level`` solves that quadratic = r^2 on the increasing branch. ``solve_l2`` is Newton's method over the
pieces: from a level, NNLS gives the active set, its quadratic gives the next level, and a level whose own pieces'
conditions hold there (lam_S >= 0; (K lam)_i >= t - q_i off S: the KKT conditions of the NNLS) is the optimum,
exact up to rounding. The levels stay inside a bracket [lo, hi] with ||D(lo)|| <= r <= ||D(hi)||; a level outside
it is replaced by the midpoint, and after ``max_pieces`` levels Brent's method finishes (the former solver, which
took about 10 NNLS solves per step where this takes 2-3). All the work is k-dimensional (no P-sized products).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.optimize import brentq, nnls


class LevelNNLS:
    """lam(t) for the Gram matrix K = J J^T (a tiny ridge 1e-14 tr(K)/k keeps its Cholesky factor defined)."""

    def __init__(self, K, q):
        self.K, self.q = K, q
        self.L = np.linalg.cholesky(K + 1e-14 * np.trace(K) / K.shape[0] * np.eye(K.shape[0]))

    def lam(self, t):
        """NNLS: min_{lam >= 0} ||L^T lam - L^{-1}(t 1 - q)||^2, the same objective as 1/2 lam^T K lam - lam.(t - q)."""
        return nnls(self.L.T, solve_triangular(self.L, t - self.q, lower=True))[0]

    def norm(self, lam):
        return float(np.sqrt(max(lam @ self.K @ lam, 0.0)))


def piece_level(K, q, S, r):
    """(t, lam) on the piece with active set S: the level with ||D(t)|| = r (increasing branch), or None."""
    if S.size == 0:
        return None
    try:
        fac = cho_factor(K[np.ix_(S, S)])
    except np.linalg.LinAlgError:
        return None
    qS = q[S]
    ones_sol, q_sol = cho_solve(fac, np.ones(S.size)), cho_solve(fac, qS)
    a, b, c = ones_sol.sum(), q_sol.sum(), float(qS @ q_sol)
    disc = b * b - a * (c - r * r)
    if not (a > 0 and disc >= 0):
        return None
    t = (b + np.sqrt(disc)) / a
    lam = np.zeros(q.size)
    lam[S] = t * ones_sol - q_sol
    return t, lam


def is_nnls_solution(K, q, t, lam, tol):
    """The NNLS optimality conditions at level t: lam >= 0, K lam >= t - q, equality where lam > 0 (to tol)."""
    slack = K @ lam - (t - q)
    on = lam > 0
    return bool(lam.min() >= -tol and slack.min() >= -tol and np.all(np.abs(slack[on]) <= tol))


def solve_l2(K, q, r, t_low, max_pieces=8):
    """The optimal level and lam >= 0 (D = J^T lam, ||D|| = r). t_low: a level with ||D(t_low)|| <= r (e.g. the value
    of any feasible step); q.min() always is one. Data should be scaled to entries of order 1 (flow.ridge does)."""
    solver = LevelNNLS(K, q)
    tol = 1e-11 * max(1.0, float(np.abs(q).max()), float(np.abs(K).max()))
    lo = max(float(q.min()), float(t_low))
    hi = float(q.min()) + r * float(np.sqrt(np.diag(K).max())) + 1e-300
    if solver.norm(solver.lam(hi)) <= r:
        return hi, solver.lam(hi)
    t = lo
    for _ in range(max_pieces):
        lam = solver.lam(t)
        if solver.norm(lam) <= r:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        piece = piece_level(K, q, np.flatnonzero(lam > 0), r)
        if piece is None:
            t = 0.5 * (lo + hi)
            continue
        t_new, lam_new = piece
        if is_nnls_solution(K, q, t_new, lam_new, tol):
            return t_new, lam_new
        t = t_new if lo < t_new < hi else 0.5 * (lo + hi)
    t = brentq(lambda s: solver.norm(solver.lam(s)) - r, lo, hi, xtol=1e-15 * max(1.0, abs(hi)),
               rtol=4 * np.finfo(float).eps)
    return t, solver.lam(t)


__all__ = ["solve_l2"]
