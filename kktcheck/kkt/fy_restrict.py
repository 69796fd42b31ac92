"""Restricted measure programs for the working-set method (kkt/fy_working.py), l2 / l1.

Columns. A band variable mu_c outside the working set W is fixed at a side: 0 or width_c lambda_owner(c) (the
slope at the bottom or the top of its interval). Folding the top ones into J0 (row owner(c) gets width_c g_c)
leaves a Combination with n + |W| columns whose feasible set is a subset of Z: its optimum is an UPPER bound.
Rows (l1 only; the l2 program works on the Gram split, with no rows, and linf has its own program,
kkt/fy_linf_cuts.py). The dual norm of u / rho = M zeta (linf) is kept exact on a row set S and the rows outside
S are dropped (max over S <= max over all rows), which LOWERS the value. It is restricted by sum_i kappa_i(c) zeta_i <= 2 (valid for every minimizer, kkt/fy_dual.py), which keeps the
relaxations bounded. The programs return their multipliers as the vector v of the weak-duality bound LB(t, v)
(kkt/fy_dual.py): with (1 - t) the multiplier of t >= F and pi+, pi- those of +-M_S zeta <= (s or e),
v = (pi+ - pi-) / (1 - t) on S.
Whatever the multipliers are, LB(t, v) is a valid lower bound; they only decide how tight it is.
"""
from __future__ import annotations

import numpy as np

from . import solve
from .combination import Combination


def restrict(G: Combination, owner, side: np.ndarray, W: np.ndarray, fold: dict | None = None
             ) -> tuple[Combination, np.ndarray]:
    """(G', owner of the W columns): band columns outside W folded into J0 at their side (1 = top).

    ``fold`` (a dict kept by the caller between rounds) holds the folded copy of J0 and the weight folded per
    column; later calls add only the columns whose folded weight changed (the n x P copy was most of a round's
    overhead). The folded J0 is only used to generate candidates: every certificate is evaluated with G itself."""
    target = np.where((side > 0) & ~np.isin(np.arange(G.k), W), G.width, 0.0) if G.k else np.zeros(0)
    fold = {} if fold is None else fold
    if "J0" not in fold:
        if not target.any():
            return Combination(G.J0, G.cols[:, W], G.width[W], G.rank_one), owner[W]
        fold["J0"], fold["w"] = G.J0.copy(), np.zeros(G.k)
    change = np.flatnonzero(target != fold["w"])
    if change.size:
        from scipy import sparse
        delta = target[change] - fold["w"][change]
        add = (G.cols[:, change] @ sparse.csr_matrix((delta, (np.arange(change.size), owner[change])),
                                                     shape=(change.size, G.n))).T.tocoo()  # n x P
        add.sum_duplicates()  # distinct (row, col) pairs: a fancy-index += is exact (np.add.at was 10x slower)
        fold["J0"][add.row, add.col] += add.data
        fold["w"][change] = target[change]
    return Combination(fold["J0"], G.cols[:, W], G.width[W], G.rank_one), owner[W]


def expand(zr: np.ndarray, n: int, owner, width, side, W) -> np.ndarray:
    """The full (lambda, mu) of a restricted (lambda, mu_W): mu_c = width_c lambda_owner(c) at the top side, 0 at
    the bottom, mu_W as given."""
    lam = zr[:n]
    mu = np.where(side > 0, width * lam[owner], 0.0) if len(owner) else np.zeros(0)
    if len(W):
        mu[W] = zr[n:]
    return np.concatenate([lam, mu])


def fold_vector(w: np.ndarray, n: int, owner, width, side, W) -> np.ndarray:
    """A linear functional w on the full (lambda, mu) as seen by the restricted program: lambda entries
    w_i + sum over the top columns c of i outside W of width_c w_c, then w on the W columns. With w = G^T x this
    is G_r^T x of ``restrict`` without a pass over J0."""
    k = len(owner)
    lam = np.array(w[:n], dtype=np.float64)
    if k:
        top = np.flatnonzero((side > 0) & ~np.isin(np.arange(k), W))
        lam += np.bincount(owner[top], weights=width[top] * w[n + top], minlength=n)
    return np.concatenate([lam, w[n + np.asarray(W, dtype=int)]])


def _base(n, owner_w, width_w, c_r, q, kc):
    import cvxpy as cp
    lam, mu, z, cons = solve._variables(n, owner_w, width_w)
    s, t = cp.Variable(nonneg=True), cp.Variable()
    f_con = 0.5 + 0.5 * cp.square(s) - c_r @ z <= t
    g_con = (q - 1.0) @ lam <= t
    cons += [f_con, g_con, kc @ lam <= 2.0]
    return lam, mu, z, s, t, cons, f_con, g_con


def rows_program(Gr: Combination, owner_w, scale, x, L, q, kc, S, solver=None) -> dict:
    """Restricted l1 program (dual linf) on rows S (module docstring). Returns dict(z (scaled, restricted),
    hint t, v (P,), status, message, value)."""
    import cvxpy as cp
    n = Gr.n
    c_r = Gr.rmatvec(x) / L
    lam, mu, z, s, t, cons, f_con, g_con = _base(n, owner_w, Gr.width, c_r, q, kc)
    A = scale * Gr.rows(S)
    p_con, m_con = A @ z <= s, -(A @ z) <= s
    cons += [p_con, m_con]
    prob = cp.Problem(cp.Minimize(t), cons)
    status, msg = solve._solve(prob, solver)
    if lam.value is None:
        return {"status": status, "message": msg or f"cvxpy status {status}"}
    zr = np.concatenate(solve._pack(lam, mu))
    alpha = float(f_con.dual_value or 0.0)
    v = np.zeros(len(x))
    if alpha > 1e-12:
        v[S] = (np.asarray(p_con.dual_value) - np.asarray(m_con.dual_value)).reshape(-1) / alpha
    return {"z": zr, "hint": 1.0 - alpha, "v": v, "status": status, "message": msg, "value": float(prob.value)}
