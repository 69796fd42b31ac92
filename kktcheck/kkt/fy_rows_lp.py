"""The restricted l1 measure program of the working set (kkt/fy_working.py) as a HiGHS linear program.

Columns restricted as in kkt/fy_restrict.py, rows as described there (scaled variables zeta = (lambda, mu_W), rows S of A = (rho / L) G_r,
c = G_r^T theta~ / L, gt = q - 1 on lambda):

    min t   s.t.  t >= 1/2 + 1/2 s^2 - c . zeta,   t >= gt . zeta,   kappa(c) . lambda <= 2,
                  0 <= mu_c <= width_c lambda_owner(c),   zeta >= 0,
    l1 (dual linf):    s >= |A_j zeta|            (j in S; the rows outside S are dropped, a relaxation).

The only non-linear term, 1/2 s^2, is replaced by its tangent cuts t >= 1/2 + s_k s - s_k^2 / 2 - c . zeta (a
lower model, exact at the cut points s_k; the first ones on a coarse grid and around the previous round's s).
After each solve, while the solution violates the true constraint t >= 1/2 + 1/2 s^2 - c . zeta by more than
CUT_TOL (the violation is at most 1/2 (s - s_k)^2 for the nearest cut), cuts are added at s and s +- |s - s_k| / 100
and HiGHS's dual simplex continues from its basis. The cut model is below the program at every point, so the LP
optimum is a lower bound of the restricted optimum, and a solution that satisfies the true constraint to CUT_TOL
is optimal for the restricted program to CUT_TOL.

The working set certifies every round against the FULL program anyway (kkt/fy_working.py: the value of the
expanded certificate, and LB(t, v) of kkt/fy_dual.py with the multipliers below), so the LP's accuracy decides
only how many rounds are needed, never the reported numbers. Multipliers: alpha = sum of the cuts' duals (the
weight of the F term), hint 1 - alpha; v = (pi+ - pi-) / alpha on S from the rows s >= +-A_j zeta.
(The linf measure has its own program, kkt/fy_linf_cuts.py, which reuses the tangent cuts and ``solve_once``.)
"""
from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from .._quiet import silence_highs_banner
from . import solve
from .combination import Combination

CUT_TOL = 1e-10  # violation of t >= 1/2 + 1/2 s^2 - c . zeta accepted at the solution (= FEAS_TOL: HiGHS keeps rows only to that)
MAX_CUTS = 60
FEAS_TOL = 1e-10  # HiGHS's primal / dual feasibility tolerances (default 1e-7: the l1 benchmark round then stalled
# with a certified gap of 2.4e-7, above the working set's 1e-8)
FIRST_CUTS = (0.0, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0, 2.0)
# Tangents of s^2 / 2 at a and b meet at (a + b) / 2, so one cut per solve would only bisect; cuts at s and at
# s +- SPREAD |s - s_k| (s_k the nearest cut) narrow the bracket about a hundredfold per solve.
SPREAD = 1e-2
HINT_SPREAD = (-1e-2, -1e-4, -1e-6, 0.0, 1e-6, 1e-4, 1e-2)  # around the previous round's s


def _rows(A, nz, kc_full, gt_full, owner_w, width_w, n):
    """(CSR matrix, lower, upper) of every row except the cuts; columns (zeta (nz), s, t)."""
    m = A.shape[0]
    cols = nz + 2
    s_col, t_col = nz, nz + 1
    head = sparse.csr_matrix(np.vstack([np.concatenate([-gt_full, [0.0, 1.0]]),
                                        np.concatenate([kc_full, [0.0, 0.0]])]))
    lo, hi = [0.0, -np.inf], [np.inf, 2.0]
    blocks = [head]
    k = len(owner_w)
    if k:  # width_c lambda_o - mu_c >= 0
        r = np.arange(k)
        band = sparse.csr_matrix((np.concatenate([width_w, -np.ones(k)]),
                                  (np.concatenate([r, r]), np.concatenate([owner_w, n + r]))), shape=(k, cols))
        blocks.append(band)
        lo, hi = lo + [0.0] * k, hi + [np.inf] * k
    one = sparse.csr_matrix((np.ones(m), (np.arange(m), np.full(m, s_col - nz))), shape=(m, cols - nz))
    blocks += [sparse.hstack([-A, one]), sparse.hstack([A, one])]  # s - A z >= 0, s + A z >= 0
    lo, hi = lo + [0.0] * (2 * m), hi + [np.inf] * (2 * m)
    return sparse.vstack(blocks, format="csr"), np.array(lo), np.array(hi), s_col, t_col


def first_cuts(s_hint=None) -> tuple:
    """Where the first tangent cuts of 1/2 s^2 go: the coarse grid FIRST_CUTS and, given a guess of s, HINT_SPREAD
    around it (clipped at 0)."""
    near = () if s_hint is None else tuple(max(s_hint * (1.0 + f), 0.0) for f in HINT_SPREAD)
    return FIRST_CUTS + near


def _add_rows(hs, M, lo, hi):
    M = M.tocsr()
    hs.addRows(M.shape[0], lo, hi, M.nnz, M.indptr[:-1].astype(np.int32), M.indices.astype(np.int32),
               M.data.astype(np.float64))


def rows_program(Gr: Combination, owner_w, scale, c_r, q, kc, S, s_hint=None) -> dict:
    """The restricted program of the module docstring by HiGHS (c_r = G_r^T theta~ / L). s_hint: the previous round's s, where the first
    cuts are put (HINT_SPREAD around it). Returns dict(z (scaled, restricted), hint (the weight 1 - alpha),
    v (P,), s, status, message, value)."""
    import highspy
    silence_highs_banner()
    n, nz = Gr.n, Gr.n + Gr.k
    A = scale * Gr.rows_sparse(S)
    kc_full = np.concatenate([kc, np.zeros(Gr.k)])
    gt_full = np.concatenate([q - 1.0, np.zeros(Gr.k)])
    M, lo, hi, s_col, t_col = _rows(A, nz, kc_full, gt_full, np.asarray(owner_w, dtype=int), Gr.width, n)
    hs = highspy.Highs()
    hs.setOptionValue("output_flag", False)
    for key in ("primal_feasibility_tolerance", "dual_feasibility_tolerance"):
        hs.setOptionValue(key, FEAS_TOL)
    inf = highspy.kHighsInf
    ncol = M.shape[1]
    lower = np.zeros(ncol)
    lower[t_col] = -inf
    hs.addVars(ncol, lower, np.full(ncol, inf))
    hs.changeColCost(t_col, 1.0)
    _add_rows(hs, M, np.where(np.isinf(lo), -inf, lo), np.where(np.isinf(hi), inf, hi))
    nbase = M.shape[0]
    cut_row = np.concatenate([c_r, [0.0, 1.0], np.zeros(ncol - nz - 2)])
    cuts = []

    def add_cut(sk):
        row = cut_row.copy()
        row[s_col] = -sk
        _add_rows(hs, sparse.csr_matrix(row[None, :]), np.array([0.5 - 0.5 * sk * sk]), np.array([inf]))
        cuts.append(sk)
    for sk in first_cuts(s_hint):
        add_cut(sk)
    status, msg = _run_cuts(hs, add_cut, cuts, c_r, s_col)
    if status != "optimal":
        return {"status": status, "message": msg}
    sol = hs.getSolution()
    col, dual = np.asarray(sol.col_value), np.asarray(sol.row_dual)
    res = _result(col, dual, nbase, len(S), len(owner_w), nz, Gr.J0.shape[1], S,
                  hs.getInfo().objective_function_value)
    res["s"] = float(col[s_col])
    return res


def _run_cuts(hs, add_cut, cuts, c_r, s_col):
    """Solve, and add tangent cuts near the solution's s while the solution violates the true constraint
    t >= 1/2 + 1/2 s^2 - c . zeta by more than CUT_TOL (columns: zeta first, then s, then t). The violation is at most 1/2 (s - s_k)^2 for the nearest cut s_k, and 0 when the F term is
    not the binding one."""
    for _ in range(MAX_CUTS):
        status, msg = solve_once(hs)
        if status != "optimal":
            return status, msg
        col = np.asarray(hs.getSolution().col_value)
        s, t = float(col[s_col]), float(col[s_col + 1])
        if 0.5 + 0.5 * s * s - float(c_r @ col[:c_r.size]) - t <= CUT_TOL:
            return "optimal", ""
        dist = min(abs(s - sk) for sk in cuts)
        for sk in (s - SPREAD * dist, s, s + SPREAD * dist):
            add_cut(max(sk, 0.0))
    return "optimal_inaccurate", f"tangent cuts of 1/2 s^2 did not settle in {MAX_CUTS} solves"


def solve_once(hs) -> tuple[str, str]:
    """One HiGHS run within the time left: ("optimal", ""), (time_limit, why) or ("solver_error", HiGHS's status).
    HiGHS compares its time_limit with the instance's total run time (hs.getRunTime(), which a model kept between
    rounds accumulates), so the limit is that plus the time left."""
    import highspy
    left = solve.remaining()
    if left <= 0:
        return solve.TIME_LIMIT, "time limit reached before this solve"
    if math.isfinite(left):
        hs.setOptionValue("time_limit", float(hs.getRunTime() + left))
    hs.run()
    ms = hs.getModelStatus()
    if ms == highspy.HighsModelStatus.kTimeLimit:
        return solve.TIME_LIMIT, "time limit reached during the solve"
    if ms != highspy.HighsModelStatus.kOptimal:
        return "solver_error", f"HiGHS: {hs.modelStatusToString(ms)}"
    return "optimal", ""


def _result(col, dual, nbase, m, k, nz, P, S, value):
    """The dict of ``rows_program`` from HiGHS's primal values and row duals (a >= row at its bound has dual >= 0)."""
    z = np.maximum(col[:nz], 0.0)
    alpha = float(np.maximum(dual[nbase:], 0.0).sum())
    first = 2 + k  # rows: g, kappa, band (k), then +- A rows
    pi_p, pi_m = dual[first:first + m], dual[first + m:first + 2 * m]
    v = np.zeros(P)
    if alpha > 1e-12:
        v[S] = (pi_p - pi_m) / alpha
    return {"z": z, "hint": 1.0 - alpha, "v": v, "status": "optimal", "message": "", "value": float(value)}
