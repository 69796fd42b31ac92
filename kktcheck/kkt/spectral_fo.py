"""The spectral-norm KKT measure without a generic SDP: smoothed quasi-Newton with a certified duality gap.

Problem (kkt/spectral_ops.py): measure = min over zeta in Z of F(zeta) = max(1/2 + 1/2 N(U(zeta))^2 - c . zeta,
qv . zeta), N = sum of the layers' nuclear norms of U(zeta) = (rho / L) G zeta.

Upper bound: F at the best point found (exact singular values), an explicit certificate (lambda, u).

Lower bound: D(alpha, W) = alpha / 2 (1 - ||W||^2) + B min(0, min_i e_i(g)) <= measure for every alpha in
[0, 1] and W (weak duality; kkt/spectral_dual.py, proof in docs/kkt.md, "Spectral norm without an SDP").

The solver (L-BFGS-B on the smoothed objective of spectral_ops.smoothed, smoothing s = 1e-2 ... 1e-9,
warm-started from the A.13 multipliers; the coarse stages s >= TIGHT_BELOW stop at ftol QUICK_FTOL s, the fine
ones run to convergence) supplies both: zeta for the upper bound, and W = t grad N_s(U(zeta)), alpha for the
lower bound; from s = POLISH_BELOW on, polish rounds (spectral_dual.restricted_primal / polished) when the gap
is still open. The band constraint 0 <= mu_c <= width_c lambda_i is kept by the reference-slope box
parametrization of kkt/spectral_param.py, reset at every stage (the certificate does not rely on it).
Status "optimal" when upper - lower <= gap_tol, "approximate" when the certified gap is larger, "time_limit" when
the deadline stopped it (the interval is in the message).
"""
from __future__ import annotations


import numpy as np
from scipy.optimize import minimize

from ..threads import single_threaded
from . import spectral_dual as dual, spectral_ops as ops
from .solve import TIME_LIMIT, remaining
from .spectral_param import SlopeParam

SMOOTHING = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9)
GAP_TOL = 1e-7
POLISH_ROUNDS = 4
POLISH_BELOW = 1e-7  # from this smoothing on, polish rounds (spectral_dual) when the gap is still open
QUICK_FTOL = 1e-3    # coarse stages stop when an iteration gains less than QUICK_FTOL s (relative)
TIGHT_BELOW = 1e-6   # stages with s < TIGHT_BELOW run to convergence (ftol 1e-16)


class _OutOfTime(Exception):
    pass


def _polish(cp, zeta, best, lower, gap_tol, rounds=POLISH_ROUNDS):
    """Alternate the restricted primal SOCP in the singular pairs of U(zeta) (a new primal point, kept when its
    exact F is lower) and the polished dual bound, until the certified gap closes or time runs out."""
    for _ in range(rounds):
        if remaining() <= 0:
            break
        cand = dual.restricted_primal(cp, zeta)
        if cand is not None:
            f = ops.objective(cp, cand)
            if f < best:
                zeta, best = cand, f
        lower = max(lower, dual.polished(cp, zeta, best))
        if best - lower <= gap_tol:
            break
    return zeta, best, lower


def stage_ftol(s: float) -> float:
    """L-BFGS-B's relative-reduction tolerance at smoothing s: QUICK_FTOL s on the coarse stages (s >= TIGHT_BELOW;
    their minimizers are within about s rank of the measure, so converging them further is wasted: at n = 256
    with the band they took 400 iterations each for no gain), 1e-16 from TIGHT_BELOW on, where the smoothed
    gradient must converge for the dual bound W = t grad N_s to close the gap."""
    return QUICK_FTOL * s if s >= TIGHT_BELOW else 1e-16


def _stage(cp, zeta0, s, maxiter):
    """L-BFGS-B on the smoothed objective in the box variables of spectral_param.SlopeParam (reference slopes
    from zeta0's multipliers), from zeta0; returns the last point (as zeta) and whether the deadline stopped it."""
    par = SlopeParam(cp.n, cp.owner, cp.width, zeta0[:cp.n])
    x0 = par.x_of(zeta0)
    last = {"x": x0}

    def fun(x):
        if remaining() <= 0:
            raise _OutOfTime
        last["x"] = x
        val, g, _, _, _ = ops.smoothed(cp, par.zeta(x), s)
        return val, par.grad(x, g)
    try:
        out = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=par.bounds(),
                       options={"maxiter": maxiter, "maxcor": 30, "ftol": stage_ftol(s), "gtol": 1e-13})
        return par.zeta(out.x), False
    except _OutOfTime:
        return par.zeta(last["x"]), True


def program(nrm, theta: list, q: np.ndarray, L: int, G, owner, warm_lam=None, gap_tol: float = GAP_TOL,
            maxiter: int = 400) -> dict:
    """Same contract as fy.program (dict lam, mu, u, status, message, lower) plus upper and gap; single-threaded
    (``single_threaded``)."""
    with single_threaded():
        return _program(nrm, theta, q, L, G, owner, warm_lam, gap_tol, maxiter)


def _program(nrm, theta, q, L, G, owner, warm_lam, gap_tol, maxiter):
    rho = nrm(theta)
    cp = ops.compress(theta, q, L, G, rho, owner)
    n, sig = G.n, rho ** 2 / L
    lam0 = np.full(n, 1.0 / n) if warm_lam is None else np.asarray(warm_lam, dtype=np.float64) / sig
    zeta = np.concatenate([lam0, np.zeros(G.k)])
    best_z, best, lower, timed_out, stages = zeta, ops.objective(cp, zeta), 0.0, False, 0
    for s in SMOOTHING:
        zeta, timed_out = _stage(cp, best_z, s, maxiter)
        stages += 1
        f = ops.objective(cp, zeta)
        if f < best:
            best_z, best = zeta, f
        if timed_out:
            break
        lower = max(lower, *(dual.from_gradient(cp, zeta, sd, best) for sd in (s, 1e-3 * s)))
        if best - lower > gap_tol and s <= POLISH_BELOW:
            best_z, best, lower = _polish(cp, best_z, best, lower, gap_tol)
        if best - lower <= gap_tol:
            break
    zeta = best_z
    lam, mu = zeta[:n] * sig, zeta[n:] * sig
    mu = np.clip(mu, 0.0, G.width * lam[owner]) if len(owner) else mu  # keep every k_i in the band (as fy.program)
    gap = best - lower
    status = "optimal" if gap <= gap_tol else (TIME_LIMIT if timed_out else "approximate")
    msg = "" if status == "optimal" else (f"certified interval [{lower:.6g}, {best:.6g}] (gap {gap:.2e} > "
                                          f"{gap_tol:g}) after {stages} smoothing stages")
    return {"lam": lam, "mu": mu, "u": G @ np.concatenate([lam, mu]), "status": status, "message": msg,
            "lower": lower, "upper": best, "gap": gap, "compressed_shapes": cp.shapes}
