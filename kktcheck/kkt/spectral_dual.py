"""Certified lower bounds of the spectral-norm KKT measure (weak duality; docs/kkt.md, "Spectral norm without
an SDP").

For every alpha in [0, 1] and every W (blocks shaped like U, ||W|| = max_l sigma_max(W_l)), Fenchel-Young for
(1/2 ||.||^2, 1/2 N^2) gives 1/2 N(U)^2 >= <U, W> - 1/2 ||W||^2, so for every zeta in Z

    F(zeta) >= alpha f1 + (1 - alpha) f2 >= alpha / 2 (1 - ||W||^2) + g . zeta,
    g = alpha (U^*(W) - c) + (1 - alpha) qv          (U^* the adjoint of zeta -> U(zeta)).

Every zeta with F(zeta) <= F_up has N <= 1 + sqrt(2 F_up) (since c . zeta <= N by Hoelder) and
c . zeta >= e_min sum_i lambda_i, where e_i(g) = g_i + sum_{band c of i} width_c min(0, g_c) is the least value
of g on the i-th extreme ray of Z; so a minimizer lies in Z_B = {zeta in Z, sum_i lambda_i <= B},
B = (1 + sqrt(2 F_up)) / e_min(c), and min over Z_B of g . zeta = B min(0, min_i e_i(g)):

    measure >= D(alpha, W) = alpha / 2 (1 - ||W||^2) + B min(0, min_i e_i(g)).

``from_gradient``: W = t grad N_s(U(zeta)) (the smoothed solver's own dual guess), alpha and t by two concave
line searches. ``polished``: W = sum_j omega_j u_j v_j^T over the singular pairs of the layers of U(zeta),
maximizing D jointly over (alpha, alpha * omega) (concave: a small SOCP through the perspective
||alpha W||^2 / alpha).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from . import spectral_ops as ops


def ray_values(cp: ops.Compressed, g: np.ndarray) -> np.ndarray:
    """e_i(g) = g_i + sum over band columns c of sample i of width_c min(0, g_c): min of g . zeta on the i-th ray."""
    e = g[:cp.n].copy()
    if len(cp.owner):
        e += np.bincount(cp.owner, cp.width * np.minimum(g[cp.n:], 0.0), minlength=cp.n)
    return e


def ray_budget(cp: ops.Compressed, f_up: float) -> float:
    """B = (1 + sqrt(2 F_up)) / e_min(c) (module docstring); inf when e_min(c) <= 0 (no finite budget)."""
    e_min = float(ray_values(cp, cp.c).min())
    return (1.0 + math.sqrt(2.0 * max(f_up, 0.0))) / e_min if e_min > 0 else math.inf


def from_gradient(cp: ops.Compressed, zeta: np.ndarray, s: float, f_up: float) -> float:
    """max over alpha in [0, 1], t >= 0 of D(alpha, t W0), W0 = grad N_s(U(zeta)); >= 0 (M >= 0 always)."""
    B = ray_budget(cp, f_up)
    if not math.isfinite(B):
        return 0.0
    _, _, alpha0, Wv, Wb = ops.smoothed(cp, zeta, s)
    a = cp.adjoint(Wv)
    kappa = max(float(np.linalg.norm(w, 2)) for w in Wb)
    t0 = ops.dual_value(cp, zeta)

    def D(al, t):
        g = al * (t * a - cp.c) + (1.0 - al) * cp.qv
        return 0.5 * al * (1.0 - (t * kappa) ** 2) + B * min(0.0, float(ray_values(cp, g).min()))
    al, t = float(alpha0), t0
    for _ in range(3):
        t = minimize_scalar(lambda v: -D(al, v), bounds=(0.0, 2.0 + 2.0 * t0), method="bounded",
                            options={"xatol": 1e-12}).x
        al = minimize_scalar(lambda v: -D(v, t), bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-12}).x
    return max(0.0, D(al, t), D(float(alpha0), t0))


NULL_REL = 1e-6   # singular values below this fraction of the layer's largest form its null block
NULL_MAX = 40     # a null block with more rows + columns than this is modelled by its diagonal only


def _pair_columns(cp: ops.Compressed, zeta: np.ndarray):
    """(A, nulls): column j of A is U^*(u_j v_j^T) for the singular pairs j of every layer of U(zeta) that are
    not in a null block; nulls lists, per layer whose singular values below NULL_REL sigma_1 form a block of
    at most NULL_MAX rows + columns, the matrix C (a'b' x (n + k)) with vec(U_0^T U(zeta) V_0) = C zeta for
    that block's bases U_0, V_0 (the pinching inequality N(U) >= sum_j |u_j^T U v_j| + ||U_0^T U V_0||_nuc)."""
    cols, nulls, s0 = [], [], 0
    total = sum(a * b for a, b in cp.shapes)

    def adj(E):
        return np.column_stack([cp.adjoint(E[:, j]) for j in range(E.shape[1])]) if E.shape[1] else \
            np.zeros((cp.c.size, 0))
    for B in cp.blocks(cp.apply(zeta)):
        a, b = B.shape
        Ub, sv, Vt = np.linalg.svd(B, full_matrices=True)
        r = int((sv > NULL_REL * sv[0]).sum()) if sv.size and sv[0] > 0 else 0
        if min(a, b) == 1 or a + b <= NULL_MAX:
            r = 0  # vectors and small layers: the whole block is kept exactly
        null = (a - r) + (b - r) <= NULL_MAX or min(a, b) == 1
        keep = r if null else min(a, b)
        E = np.zeros((total, keep))
        E[s0:s0 + a * b] = np.einsum("aj,jb->abj", Ub[:, :keep], Vt[:keep]).reshape(a * b, -1)
        cols.append(adj(E))
        if null:
            U0, V0 = Ub[:, r:], Vt[r:].T
            E = np.zeros((total, U0.shape[1] * V0.shape[1]))
            E[s0:s0 + a * b] = np.einsum("ap,bq->abpq", U0, V0).reshape(a * b, -1)
            nulls.append((adj(E).T, (U0.shape[1], V0.shape[1])))
        s0 += a * b
    return np.hstack(cols), nulls


def polished(cp: ops.Compressed, zeta: np.ndarray, f_up: float) -> float:
    """max of D over alpha and W = sum_j omega_j u_j v_j^T (singular pairs of U(zeta)); a valid bound for any
    solver accuracy because D is recomputed in numpy from the solver's (alpha, omega). 0 on solver failure."""
    import cvxpy as cvx
    from .solve import _solve
    B = ray_budget(cp, f_up)
    if not math.isfinite(B):
        return 0.0
    A, nulls = _pair_columns(cp, zeta)
    w = cvx.Variable(A.shape[1])         # alpha * omega
    al, v, m = cvx.Variable(), cvx.Variable(), cvx.Variable()
    Ss = [cvx.Variable(sh) for _, sh in nulls]  # alpha * (null-block part of W)
    g = A @ w - al * (cp.c + cp.qv) + cp.qv + sum(C.T @ cvx.vec(S, order="C") for (C, _), S in zip(nulls, Ss))
    k = len(cp.owner)
    cons = [al >= 0, al <= 1, cvx.abs(w) <= m, cvx.quad_over_lin(m, al) <= 2 * v]
    cons += [(cvx.norm(cvx.vec(S, order="C"), 2) if min(sh) == 1 else cvx.sigma_max(S)) <= m
             for S, (_, sh) in zip(Ss, nulls)]
    e = g[:cp.n]
    if k:
        yv = cvx.Variable(k)
        cons += [yv <= 0, yv <= g[cp.n:]]
        sel = np.zeros((cp.n, k))
        sel[cp.owner, np.arange(k)] = cp.width
        e = e + sel @ yv
    tau = cvx.Variable()
    cons += [tau <= 0, tau <= e]
    prob = cvx.Problem(cvx.Maximize(0.5 * al - v + B * tau), cons)
    _solve(prob, None)
    if al.value is None or w.value is None:
        return 0.0
    alpha = float(np.clip(al.value, 0.0, 1.0))
    if alpha <= 0:
        return 0.0
    omega = np.asarray(w.value).reshape(-1) / alpha
    Sv = [np.asarray(S.value).reshape(sh) / alpha for S, (_, sh) in zip(Ss, nulls)]
    # numpy recomputation (valid for any omega, S): the layers' W are block-diagonal in the singular bases, so
    # ||W|| = max(|omega_j|, sigma_max(S))
    norm_w = max([float(np.abs(omega).max()) if omega.size else 0.0] + [float(np.linalg.norm(S, 2)) for S in Sv])
    gv = alpha * (A @ omega + sum(C.T @ S.reshape(-1) for (C, _), S in zip(nulls, Sv)) - cp.c) \
        + (1.0 - alpha) * cp.qv
    return max(0.0, 0.5 * alpha * (1.0 - norm_w ** 2) + B * min(0.0, float(ray_values(cp, gv).min())))


def restricted_primal(cp: ops.Compressed, zeta: np.ndarray):
    """The primal counterpart of ``polished``: min over Z of max(1/2 + 1/2 (sum_j |<u_j v_j^T, U>|)^2 - c . zeta,
    qv . zeta) with the singular pairs (u_j, v_j) of U(zeta) (a lower model of N: the diagonal of U in any pair of
    orthonormal bases has l1 norm <= ||U||_nuc). Its minimizer is a primal candidate (evaluated exactly by the
    caller); exact when the pairs are the singular vectors of an optimal U. None on solver failure."""
    import cvxpy as cvx
    from .solve import _solve, _variables
    A, nulls = _pair_columns(cp, zeta)
    lam, mu, z, cons = _variables(cp.n, cp.owner, cp.width)
    t, s = cvx.Variable(), cvx.Variable(nonneg=True)
    model = cvx.norm1(A.T @ z) + sum(cvx.norm(C @ z, 2) if min(sh) == 1 else
                                     cvx.normNuc(cvx.reshape(C @ z, sh, order="C")) for C, sh in nulls)
    cons += [s >= model, t >= 0.5 + 0.5 * cvx.square(s) - cp.c @ z, t >= cp.qv @ z]
    prob = cvx.Problem(cvx.Minimize(t), cons)
    _solve(prob, None)
    if lam.value is None:
        return None
    out = np.maximum(np.asarray(z.value, dtype=np.float64).reshape(-1), 0.0)
    if len(cp.owner):
        out[cp.n:] = np.minimum(out[cp.n:], cp.width * out[:cp.n][cp.owner])
    return out
