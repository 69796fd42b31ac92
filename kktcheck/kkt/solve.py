"""Convex programs for the KKT residual of (MM) at a fixed feasible theta_tilde.

Variables z = (lambda, mu): lambda >= 0 (n,), Clarke variables 0 <= mu_c <= width_c lambda_{owner(c)} (see
clarke.py, ``two_layer_clarke_band``; width_c = 1 for the exact set);
sum_i lambda_i k_i = G z with G = [J0^T | Clarke columns] (P x (n + k)); h in d(1/2||theta_tilde||^2)
(subdiff.py, tolerance tol). The minimized scalar (Dutta-style proximity) is

    max( ||h - G z||_* / rho ,  L * (q - 1) . lambda / rho^2 ),    rho = ||theta_tilde||.

Formulations (same optimum; tests compare them):
* ``generic``:   the program above with P-dimensional h and residual (reference; slow for large P).
* ``l2-reduced`` (l2): h = theta_tilde is unique and ||theta_tilde - G z||_2^2 = ||R z - c||^2 + perp^2 on
  range(G) (R, c from the eigendecomposition of the Gram matrix G^T G, see ``range_factor``): an
  (n + k)-dimensional SOCP, the same optimum as the P-dimensional one.
* ``active-set`` (l1, linf): row generation. The residual norm is a sum (dual l1) or max (dual linf)
  over P coordinates; only a working set S of coordinates is kept explicitly, the rest enter through a
  valid lower bound (sum: cutting planes sigma_t . r; max: dropped). The restricted optimum is a lower bound
  of the true one; coordinates are added until the best certificate is within gap_tol of it, so the result
  is the optimum of the full program up to that gap.
"""
from __future__ import annotations

import contextvars
import math
import time

import numpy as np

from ..subdiff import block_shape, norm_subdifferential_constraints
from .checks import family
from .combination import Combination, _split, range_factor


CLARABEL_OPTS = {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9}

# Wall-clock deadline (time.perf_counter() value) of the current kc.residual call; every solve gets the
# remaining time as Clarabel's time_limit, and a solve that would start after the deadline is skipped.
DEADLINE: contextvars.ContextVar = contextvars.ContextVar("kkt_deadline", default=None)
TIME_LIMIT = "time_limit"


# Dense entries the (eps, delta) program may hold (its largest matrices; ``pair_entries``). Measured: the l2 pair at
# n = 1000, k = 2742 band columns holds a 3742 x 3742 Gram factor (1.4e7 entries) and took the default call from
# 1.0 GB (measure only) to 2.28 GB peak RSS: about 90 bytes per entry, a dozen float64 copies in cvxpy/Clarabel.
PAIR_MAX_ENTRIES = 10_000_000


def pair_entries(meth: str, n: int, k: int, P: int, band_nnz: int = 0) -> tuple[int, str]:
    """(entries, description) of the largest matrices the (eps, delta) program of ``meth`` builds, from the sizes
    alone: l2-reduced the (n + k) x (n + k) Gram factor; active-set that factor (its l2 warm start) plus the
    first row set, min(P, 3 (n + k) + 10) x (n + k) dense; generic the P x (n + k) constraint matrix (n P dense
    Jacobian entries plus the band's non-zeros); compressed 0 (its SDP is bounded by max_sdp)."""
    m = n + k
    if meth == "l2-reduced":
        return m * m, f"a dense {m} x {m} Gram factor"
    if meth == "active-set":
        rows = min(P, 3 * m + 10)
        return m * m + rows * m, f"a dense {m} x {m} Gram factor and a {rows} x {m} row block"
    if meth == "generic":
        return n * P + band_nnz, f"the {P} x {m} constraint matrix ({n * P + band_nnz} non-zeros)"
    return 0, "no dense matrix"


def remaining() -> float:
    """Seconds left before the current deadline (inf when none is set)."""
    d = DEADLINE.get()
    return math.inf if d is None else d - time.perf_counter()


def _solve(prob, solver):
    import warnings

    import cvxpy as cp
    left = remaining()
    if left <= 0:
        return TIME_LIMIT, "time limit reached before this solve"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if (solver or "CLARABEL") == "CLARABEL":
                extra = {} if math.isinf(left) else {"time_limit": max(left, 1e-3)}
                prob.solve(solver="CLARABEL", **CLARABEL_OPTS, **extra)
            else:
                prob.solve(solver=solver)
    except (cp.SolverError, ValueError, ArithmeticError) as err:
        if remaining() <= 0:
            return TIME_LIMIT, f"time limit reached during the solve ({err})"
        return "solver_error", str(err)
    if prob.status == "user_limit" and remaining() <= 0:  # Clarabel MaxTime (MaxIterations stays user_limit)
        return TIME_LIMIT, "time limit reached during the solve"
    msg = "solver reports an inaccurate solution; residuals are recomputed from the certificate" \
        if prob.status == "optimal_inaccurate" else ""
    return prob.status, msg


def _variables(n, owner, width=None):
    """lambda >= 0 (n,), mu (k,) with 0 <= mu_c <= width_c lambda_{owner(c)}; z = (lambda, mu)."""
    import cvxpy as cp
    lam = cp.Variable(n, nonneg=True)
    cons = []
    mu = None
    if len(owner):
        mu = cp.Variable(len(owner), nonneg=True)
        w = np.ones(len(owner)) if width is None else np.asarray(width, dtype=np.float64)
        cons.append(mu <= cp.multiply(w, lam[owner]))
    z = lam if mu is None else cp.hstack([lam, mu])
    return lam, mu, z, cons


def _pack(lam, mu):
    lv = np.maximum(np.asarray(lam.value, dtype=np.float64), 0.0)
    mv = np.zeros(0) if mu is None else np.clip(np.asarray(mu.value, dtype=np.float64), 0.0, None)
    return lv, mv


def generic(nrm, theta, q, L, G, owner, tol, solver=None):
    """Reference formulation. Returns dict(lam, mu, h (flat), status, message, objective)."""
    import cvxpy as cp
    n = len(q)
    rho = nrm(theta)
    lam, mu, z, cons = _variables(n, owner, G.width)
    h = [cp.Variable(block_shape(b)) for b in theta]
    cons += norm_subdifferential_constraints(nrm, theta, h, tol)
    hv = cp.hstack([cp.vec(e, order="C") if len(e.shape) == 2 else e for e in h])
    r = hv - G.matrix() @ z
    rb, s = [], 0
    for b in theta:
        sh = block_shape(b)
        m = int(np.prod(sh))
        rb.append(cp.reshape(r[s:s + m], sh, order="C") if len(sh) == 2 else r[s:s + m])
        s += m
    obj = cp.maximum(nrm.dual_cvxpy(rb) / rho, L * ((q - 1.0) @ lam) / rho ** 2)
    prob = cp.Problem(cp.Minimize(obj), cons)
    status, msg = _solve(prob, solver)
    if lam.value is None:
        return {"status": status, "message": msg or f"cvxpy status {status}"}
    lv, mv = _pack(lam, mu)
    hflat = np.concatenate([np.asarray(e.value, dtype=np.float64).reshape(-1) for e in h])
    return {"lam": lv, "mu": mv, "h": hflat, "status": status, "message": msg, "objective": float(prob.value)}


def l2_reduced(theta, q, L, Gc: Combination, owner, solver=None, refine: int = 1):
    """l2: the (n + k)-dimensional SOCP on range(G); h = theta_tilde.

    The Gram-matrix split loses accuracy like sqrt(machine eps) * ||theta|| in perp; when the residual is small
    (perp <= 1e-4 ||theta||), up to ``refine`` rounds of iterative refinement re-center it at the current
    residual r1 = theta - G z1 (computed in full space) and solve again, restoring full accuracy."""
    import cvxpy as cp
    n = len(q)
    x = np.concatenate([b.reshape(-1) for b in theta])
    rho = float(np.linalg.norm(x))
    factor = range_factor(Gc)
    R = factor[0]
    cpar, ppar = cp.Parameter(R.shape[0]), cp.Parameter(nonneg=True)  # one canonicalization for all rounds (DPP)
    lam, mu, z, cons = _variables(n, owner, Gc.width)
    eps = cp.norm(cp.hstack([cpar - R @ z, cp.reshape(ppar, (1,), order="C")]), 2)
    prob = cp.Problem(cp.Minimize(cp.maximum(eps / rho, L * ((q - 1.0) @ lam) / rho ** 2)), cons)
    z1 = np.zeros(Gc.n + Gc.k)
    for rnd in range(refine + 1):
        c, perp = _split(Gc, factor, x - Gc @ z1)
        if rnd and perp > 1e-4 * rho:  # cancellation in perp only matters when the residual is tiny
            break
        cpar.value, ppar.value = c + R @ z1, perp
        status, msg = _solve(prob, solver)
        if lam.value is None:
            return {"status": status, "message": msg or f"cvxpy status {status}"}
        lv, mv = _pack(lam, mu)
        z1 = np.concatenate([lv, mv])
    return {"lam": lv, "mu": mv, "h": x, "status": status, "message": msg, "objective": float(prob.value)}


def _rows_program(nrm, x, rho, q, L, G, owner, S, cuts, tol):
    """Restricted l1/linf program on coordinate set S (see module docstring); ``cuts`` are (n+k)-vectors a_t
    with sum_{j not in S} |r_j| >= -a_t . z (linf case only: h = 0 off S there)."""
    import cvxpy as cp
    n = len(q)
    lam, mu, z, cons = _variables(n, owner, G.width)
    amax = np.abs(x).max()
    GS = G.rows(S)
    hS = cp.Variable(len(S))
    if family(nrm) == "linf":  # dual l1; h supported on A subset of S
        act = np.abs(x[S]) >= (1.0 - tol) * amax
        sa = np.sign(x[S][act])
        cons += [cp.multiply(sa, hS[act]) >= 0, sa @ hS[act] == rho]
        if (~act).any():
            cons.append(hS[~act] == 0)
        rest = cp.Variable(nonneg=True)
        if cuts:
            cons.append(rest >= -np.array(cuts) @ z)
        eps = cp.norm1(hS - GS @ z) + rest
    else:  # l1 algorithm norm, dual linf
        zero = np.abs(x[S]) <= tol * amax
        if (~zero).any():
            cons.append(hS[~zero] == rho * np.sign(x[S][~zero]))
        if zero.any():
            cons += [hS[zero] <= rho, hS[zero] >= -rho]
        eps = cp.norm_inf(hS - GS @ z)
    prob = cp.Problem(cp.Minimize(cp.maximum(eps / rho, L * ((q - 1.0) @ lam) / rho ** 2)), cons)
    return prob, lam, mu, hS


def _rows_to_add(sum_case, r, S, out, m):
    """linf (residual in l1): the m outside coordinates with the smallest |r_j| (undecided signs); l1 (residual
    in linf): the (at most m) outside rows whose |r_j| exceeds the restricted max, else the m largest."""
    if sum_case:
        return out[np.argsort(np.abs(r[out]))[:m]]
    viol = np.abs(r[out]) - np.abs(r[S]).max()
    order = np.argsort(-viol)[:m]
    add = out[order[viol[order] > 0]]
    return add if add.size else out[np.argsort(-np.abs(r[out]))[:m]]


def active_set(nrm, theta, q, L, G, owner, tol, solver=None, gap_tol=1e-9, max_iter=60):
    """Row generation for the l1 / linf algorithm norms (dual linf / l1 residual). Exact up to gap_tol * rho.

    linf (residual in l1): S holds the tie set A and the coordinates with the smallest residuals (where
    signs are undecided); the rest enters through cutting planes sum_{j not in S} |r_j| >= sigma_t . r
    (sigma_t = sign of an earlier residual). l1 (residual in linf): S grows by the most violated rows.
    Stops when the best certificate found (lambda = 0 included, objective 1) is within gap_tol of the
    restricted optimum, a lower bound of the full optimum: the returned objective is optimal to gap_tol."""
    x = np.concatenate([b.reshape(-1) for b in theta])
    P, m, n = len(x), G.n + G.k, len(q)
    rho = nrm([x])
    amax = np.abs(x).max()
    sum_case = family(nrm) == "linf"
    h0 = nrm.subgradient([x])[0].numpy() * rho
    start = l2_reduced([h0], q, L, G, owner, solver, refine=0)  # warm start: z nearly minimizing ||h0 - G z||_2
    z0 = np.zeros(m) if "lam" not in start else np.concatenate([start["lam"], start["mu"]])
    special = (np.abs(x) >= (1.0 - tol) * amax) if sum_case else (np.abs(x) <= tol * amax)
    r0 = h0 - G @ z0
    S = np.union1d(np.flatnonzero(special), np.argsort(np.abs(r0) if sum_case else -np.abs(r0))[:min(P, 3 * m + 10)])
    signs = [np.sign(r0)]
    # best certificate so far; lambda = 0 with h0 always gives objective ||h0||_* / rho = 1
    best = {"lam": np.zeros(n), "mu": np.zeros(G.k), "h": h0, "objective": 1.0}
    for it in range(max_iter):
        mask = np.ones(P, dtype=bool)
        mask[S] = False
        out = np.flatnonzero(mask)
        cuts = [G.rmatvec(sg * mask) for sg in signs] if sum_case else []
        prob, lam, mu, hS = _rows_program(nrm, x, rho, q, L, G, owner, S, cuts, tol)
        status, msg = _solve(prob, solver)
        if status == TIME_LIMIT:  # the best certificate so far is valid; its optimality is not established
            return {**best, "status": status, "message": msg}
        if lam.value is None:
            return {"status": status, "message": msg or f"cvxpy status {status}"}
        lower = float(prob.value)  # the restricted optimum is a lower bound of the full one
        lv, mv = _pack(lam, mu)
        z0 = np.concatenate([lv, mv])
        h = np.zeros(P)
        h[S] = np.asarray(hS.value).reshape(-1)
        if not sum_case:
            h[out] = rho * np.sign(x[out])
        r = h - G @ z0
        eps_true = np.abs(r).sum() if sum_case else np.abs(r).max()
        obj = max(eps_true / rho, L * float((q - 1.0) @ lv) / rho ** 2)
        if obj < best["objective"]:
            best = {"lam": lv, "mu": mv, "h": h, "objective": obj}
        if best["objective"] - lower <= gap_tol or out.size == 0:
            return {**best, "status": status, "message": msg, "iterations": it + 1}
        if sum_case:
            signs.append(np.sign(r))
        S = np.union1d(S, _rows_to_add(sum_case, r, S, out, m))
    return {**best, "status": "optimal_inaccurate",
            "message": f"active set did not converge in {max_iter} rounds (gap {best['objective'] - lower:.2e})"}
