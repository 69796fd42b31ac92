"""The Fenchel-Young KKT measure of (MM): continuous in theta, zero exactly at KKT points (docs/kkt.md).

At the feasible point theta~ (min_i q_i = 1), rho = ||theta~||, for multipliers lambda >= 0 and constraint
subgradients k_i in the (banded) Clarke set of q_i, u = sum_i lambda_i k_i = G z with z = (lambda, mu):

    FY(theta~, u) = 1/2||theta~||^2 + 1/2||u||_*^2 - <theta~, u>   >= 0   (Fenchel-Young for 1/2||.||^2),
    measure = min_{z feasible} max( FY / rho^2 ,  L (q - 1) . lambda / rho^2 ).

FY = 0 iff u lies in d(1/2||theta~||^2) (no tie tolerance needed: the exact set enters only through the
equality case of Fenchel-Young, and FY is jointly continuous). lambda = 0 gives the trivial value 1/2.
For l2, FY = 1/2||u - theta~||_2^2, so the measure is 1/2 eps_rel^2 there.

Program in scaled variables zeta = z L / rho^2 (sum_i zeta_i ~ 1 at a KKT point, by Euler <k_i, theta~> = L q_i):

    min t  s.t.  t >= 1/2 + 1/2 s^2 - c . zeta,   t >= (q - 1) . zeta_lambda,   s >= ||(rho / L) G zeta||_*,
    c = G^T theta~ / L,  zeta >= 0,  mu-part <= width * lambda-part[owner].

The dual norm ||u||_* is the nuclear norm of compressed blocks for the spectral norm (kkt/compress.py: the
isometry keeps it) and ``nrm.dual_cvxpy`` of the P-dimensional blocks otherwise. For l2 the FY term is written
directly as 1/2||theta~ - u||^2 = 1/2(||R z - c||^2 + perp^2) through the Gram split (combination.range_factor,
combination._split): an (n + k)-dimensional cone that Clarabel solves to "optimal" (the s^2 form stalls at
"almost solved" there).

``a13_bound``: the closed-form upper bound along lambda proportional to e^{-q_i(theta)} (Prop. A.13 of the
paper): with d = v / ||v||_*, v = sum_i w_i grad q_i(theta~), w = softmax(-q(theta)), u = a rho d and
beta = <theta~, d> / rho (the alignment <theta/||theta||, -g/||g||_*> of the exp-loss gradient g):

    FY / rho^2 = 1/2 + a^2/2 - a beta   (= 1 - beta at a = 1, the A.13 scaling),   L (q-1).lambda / rho^2 = a s,
    s = L (q - 1) . w / (rho ||v||_*);   the bound is min_{a >= 0} max(1/2 + a^2/2 - a beta, a s) (closed form).
"""
from __future__ import annotations

import math

import numpy as np

from ..subdiff import block_shape
from . import combination, solve
from .checks import family
from .result import split


def fy_rel(nrm, theta: list, u: np.ndarray) -> float:
    """FY(theta, u) / ||theta||^2 with numpy (theta: blocks, u: flat). For l2 the exact identity 1/2||u - x||^2."""
    x = np.concatenate([b.reshape(-1) for b in theta])
    rho = nrm(theta)
    if family(nrm) == "l2":
        return float(0.5 * np.sum((u - x) ** 2) / rho ** 2)
    ud = nrm.dual(split(u, [b.shape for b in theta])) / rho
    return float(max(0.5 + 0.5 * ud ** 2 - (x @ u) / rho ** 2, 0.0))


def evaluate(nrm, theta: list, q: np.ndarray, L: int, u: np.ndarray, lam: np.ndarray) -> dict:
    """The two terms and the measure for a certificate (u, lambda), recomputed with numpy."""
    rho = nrm(theta)
    f = fy_rel(nrm, theta, u)
    comp = float(L * ((q - 1.0) @ lam) / rho ** 2)
    return {"fy_rel": f, "complementarity_rel": comp, "measure": max(f, comp)}


def _dual_term(nrm, theta, G, scale, info):
    """(matrix M, block shapes) with ||(scale) G zeta||_* = dual norm of the blocks of M zeta (not l2)."""
    if info is not None:  # compressed spectral layers: same nuclear norms (isometry), smaller SDP
        rows = [np.einsum("ma,mdk,db->abk", Qc, G3, Qr).reshape(-1, G.n + G.k) for Qc, Qr, _, G3 in info]
        return scale * np.vstack(rows), [(Qc.shape[1], Qr.shape[1]) for Qc, Qr, _, _ in info]
    return scale * G.matrix(), [block_shape(b) for b in theta]


def _fy_l2(x, rho, L, G, z):
    """l2: FY / rho^2 = 1/2 ||x - (rho^2 / L) G zeta||^2 / rho^2 = 1/2 (||(rho / L) R zeta - c / rho||^2 + (perp / rho)^2)
    with R, c, perp from the Gram matrix (combination.range_factor / combination._split): an (n + k)-dimensional cone."""
    import cvxpy as cp
    factor = combination.range_factor(G)
    c, perp = combination._split(G, factor, x)
    R = (rho / L) * factor[0]
    return 0.5 * cp.sum_squares(R @ z - c / rho) + 0.5 * (perp / rho) ** 2


def _blocks(expr, shapes):
    import cvxpy as cp
    out, s = [], 0
    for sh in shapes:
        m = int(np.prod(sh))
        out.append(cp.reshape(expr[s:s + m], sh, order="C") if len(sh) == 2 else expr[s:s + m])
        s += m
    return out


def program(nrm, theta: list, q: np.ndarray, L: int, G: "combination.Combination", owner, solver=None,
            info=None) -> dict:
    """Solve the measure program (module docstring). Returns dict(lam, mu, u, status, message, lower)."""
    import cvxpy as cp
    x = np.concatenate([b.reshape(-1) for b in theta])
    rho = nrm(theta)
    n = len(q)
    lam, mu, z, cons = solve._variables(n, owner, G.width)
    t = cp.Variable()
    if family(nrm) == "l2":
        cons.append(t >= _fy_l2(x, rho, L, G, z))
    else:
        M, shapes = _dual_term(nrm, theta, G, rho / L, info)
        s = cp.Variable(nonneg=True)
        cons += [s >= nrm.dual_cvxpy(_blocks(M @ z, shapes)), t >= 0.5 + 0.5 * cp.square(s) - (G.rmatvec(x) / L) @ z]
    cons.append(t >= (q - 1.0) @ lam)
    prob = cp.Problem(cp.Minimize(t), cons)
    status, msg = solve._solve(prob, solver)
    if lam.value is None:
        return {"status": status, "message": msg or f"cvxpy status {status}"}
    lv, mv = solve._pack(lam, mu)
    sig = rho ** 2 / L
    lv, mv = lv * sig, mv * sig
    mv = np.minimum(mv, G.width * lv[owner]) if len(owner) else mv  # clip solver slack: keep k_i in the set
    u = G @ np.concatenate([lv, mv])
    return {"lam": lv, "mu": mv, "u": u, "status": status, "message": msg, "lower": float(prob.value)}


def a13_bound(nrm, theta: list, q: np.ndarray, L: int, v: np.ndarray, w: np.ndarray) -> dict:
    """Closed-form upper bound along lambda = (a rho / ||v||_*) w (module docstring); also beta and the A.13 value.

    v = sum_i w_i grad q_i(theta~) (flat), w = softmax(-q(theta)) at the ORIGINAL scale (Prop. A.13's e^{-q_i})."""
    x = np.concatenate([b.reshape(-1) for b in theta])
    rho = nrm(theta)
    vd = nrm.dual(split(v, [b.shape for b in theta]))
    if not (vd > 0 and math.isfinite(vd)):
        return {"bound": 0.5, "beta": math.nan, "a13_value": math.nan, "a": 0.0, "lam": np.zeros(len(q))}
    beta = float(x @ v) / (rho * vd)
    s = float(L * ((q - 1.0) @ w) / (rho * vd))
    a, val = _line_min(beta, s)
    if family(nrm) == "l2":  # exact identity, no cancellation: 1/2||a rho d - x||^2 / rho^2
        val = max(float(0.5 * np.sum((a * rho * v / vd - x) ** 2) / rho ** 2), a * s)
    return {"bound": val, "beta": beta, "a13_value": max(1.0 - beta, s), "a": a, "lam": a * rho / vd * w}


def _line_min(beta: float, s: float) -> tuple[float, float]:
    """argmin and min over a >= 0 of max(F(a), a s), F(a) = 1/2 + a^2/2 - a beta (convex; F(0) = 1/2 > 0)."""
    if beta <= 0:
        return 0.0, 0.5
    f_b = 0.5 * (1.0 - beta * beta)
    if f_b >= s * beta:  # F's minimizer a = beta already has F >= a s
        return beta, f_b
    b = beta + s  # F(a) = a s at the smaller root of a^2/2 - b a + 1/2 (exists: F - a s changes sign on [0, beta])
    a = 1.0 / (b + math.sqrt(max(b * b - 1.0, 0.0)))
    return a, a * s
