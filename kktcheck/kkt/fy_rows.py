"""Row generation for the Fenchel-Young measure program with the l1 algorithm norm (dual linf; kkt/fy.py).

The program (scaled variables zeta, M = (rho / L) G, c = G^T theta~ / L, see fy.py)

    min t  s.t.  t >= 1/2 + 1/2 s^2 - c . zeta,  t >= (q - 1) . lambda,  s >= ||M zeta||_inf,  zeta feasible

has P rows |M_j zeta| <= s. Keeping only a working set S of rows relaxes it: the restricted optimum is a LOWER
bound of the measure, while its certificate evaluated with the full ||M zeta||_inf is an UPPER bound. The m
most violated rows are added per round until upper - lower <= gap; the result is then the optimum of the full
program up to ``gap``. Start: the m + 2 rows of the largest |theta~_j| (m = n + k variables; at a KKT point of
l1, |u_j| = rho on the support of theta~).

(For linf, dual l1, a sum over P coordinates, the full program is used: a sign-cut relaxation needed more
rounds than the full LP costs at P = 5000.)
"""
from __future__ import annotations

import math

import numpy as np

from . import solve


def _restricted(MS, c, q, n, owner, width):
    import cvxpy as cp
    lam, mu, z, cons = solve._variables(n, owner, width)
    s, t = cp.Variable(nonneg=True), cp.Variable()
    cons += [s >= cp.norm_inf(MS @ z), t >= 0.5 + 0.5 * cp.square(s) - c @ z, t >= (q - 1.0) @ lam]
    return cp.Problem(cp.Minimize(t), cons), lam, mu


def program(nrm, theta, q, L, G, owner, solver=None, gap: float = 1e-9, max_iter: int = 60) -> dict:
    """Same contract as fy.program (dict lam, mu, u, status, message, lower); nrm must be l1."""
    x = np.concatenate([b.reshape(-1) for b in theta])
    rho = float(np.abs(x).sum())
    n, m, P = len(q), G.n + G.k, len(x)
    scale = rho / L  # M = scale * G, used through its rows and matvecs only (G keeps the band sparse)
    c = G.rmatvec(x) / L
    S = np.argsort(-np.abs(x))[:min(P, m + 2)]
    best, lower, status, msg = None, -math.inf, "optimal", ""
    for _ in range(max_iter):
        prob, lam, mu = _restricted(scale * G.rows(S), c, q, n, owner, G.width)
        status, msg = solve._solve(prob, solver)
        if lam.value is None or status not in ("optimal", "optimal_inaccurate"):
            res = {"status": status, "message": msg or f"cvxpy status {status}"}
            return {**_pack_out(best, G, owner, rho, L, lower, status, msg), **res} if best else res
        lower = max(lower, float(prob.value))
        lv, mv = solve._pack(lam, mu)
        zeta = np.concatenate([lv, mv])
        r = scale * (G @ zeta)
        upper = max(0.5 + 0.5 * np.abs(r).max() ** 2 - c @ zeta, (q - 1.0) @ lv)
        if best is None or upper < best["value"]:
            best = {"value": upper, "zeta": zeta}
        out = np.setdiff1d(np.arange(P), S)
        if best["value"] - lower <= gap or out.size == 0:
            return _pack_out(best, G, owner, rho, L, lower, status, msg)
        S = np.union1d(S, out[np.argsort(-np.abs(r[out]))[:m]])
    return _pack_out(best, G, owner, rho, L, lower, "optimal_inaccurate",
                     f"row generation stopped after {max_iter} rounds (gap {best['value'] - lower:.2e})")


def _pack_out(best, G, owner, rho, L, lower, status, msg):
    sig = rho ** 2 / L
    zeta = best["zeta"]
    lv, mv = zeta[:G.n] * sig, zeta[G.n:] * sig
    mv = np.minimum(mv, G.width * lv[owner]) if len(owner) else mv
    u = G @ np.concatenate([lv, mv])
    return {"lam": lv, "mu": mv, "u": u, "status": status, "message": msg, "lower": lower}
