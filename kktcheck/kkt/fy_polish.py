"""Exact polishing of an l2 measure solution on its active set (kkt/fy_working.py).

An interior-point solution zeta (scaled variables, kkt/fy_dual.py) is accurate to about sqrt(solver tolerance) in
degenerate directions, and the weak-duality bound LB(t, M zeta) loses that error at first order through the
reduced costs. Given the active set read off zeta -- samples A with lambda_i > 0, band columns of A at the top
of their interval (folded into the sample's column), strictly inside (free, set I), or at 0 (dropped) -- the
l2 program restricted to that face is

    min_y max( 1/2 + 1/2 y^T H y - c_E . y ,  g_E . y ),    H = E^T M^T M E,  c_E = E^T c,  g_E = E^T gt,

over the effective columns E (|A| + |I| of them), with no inequality left. Its minimizer is y(tau) = y0 - tau y1,
H y0 = c_E, H y1 = g_E, where tau = t / (1 - t) >= 0 makes the two terms equal (a quadratic equation in tau) or
tau = 0 when the FY term already dominates. If y(tau) is feasible (lambda >= 0, 0 <= mu <= width lambda) it is
returned; the caller keeps it only if its certificate is better, so a wrong active set costs nothing.
"""
from __future__ import annotations

import math

import numpy as np

RELS = (1e-7, 1e-5, 1e-9, 1e-3)  # relative thresholds tried to classify lambda_i > 0 and the band columns


def _face(zr, n, owner_w, width_w, rel):
    """(A, top, I) of a restricted (lambda, mu_W): support of lambda, W columns at the top of their interval,
    W columns strictly inside it (relative threshold ``rel``)."""
    lam, mu = zr[:n], zr[n:]
    A = np.flatnonzero(lam > rel * max(float(lam.max()), 1e-300))
    ref = width_w * lam[owner_w] if len(owner_w) else np.zeros(0)
    on = np.isin(owner_w, A) & (ref > 0)
    frac = np.divide(mu, ref, out=np.zeros_like(mu), where=ref > 0)
    return A, np.flatnonzero(on & (frac >= 1.0 - rel)), np.flatnonzero(on & (frac > rel) & (frac < 1.0 - rel))


def _tau(H, y0, y1, c_E, g_E) -> float:
    """tau >= 0 with F(y(tau)) = g_E . y(tau), F(y) = 1/2 + 1/2 y^T H y - c_E . y; 0 if F >= g . y at tau = 0."""
    f = lambda y: 0.5 + 0.5 * y @ H @ y - c_E @ y  # noqa: E731
    d0 = f(y0) - g_E @ y0
    if d0 >= 0:
        return 0.0
    a2 = 0.5 * y1 @ H @ y1  # F(y0 - tau y1) - g.(y0 - tau y1) = d0 + b tau + a2 tau^2
    b = -(y0 @ H @ y1) + c_E @ y1 + g_E @ y1
    if a2 <= 0:
        return -d0 / b if b > 0 else math.nan
    disc = b * b - 4.0 * a2 * d0
    return (-b + math.sqrt(disc)) / (2.0 * a2) if disc >= 0 else math.nan


def _solve2(H, B):
    """H^{-1} B for the PSD face Gram H (Cholesky; least squares when H is singular)."""
    from scipy import linalg
    try:
        return linalg.cho_solve(linalg.cho_factor(H, check_finite=False), B, check_finite=False)
    except (linalg.LinAlgError, ValueError):
        return np.linalg.lstsq(H, B, rcond=None)[0]


def polish(Hr, c_r, g_r, zr, n, owner_w, width_w, rel: float = RELS[0]) -> np.ndarray | None:
    """The exact minimizer on the face of the restricted solution zr (module docstring), read with relative
    threshold ``rel``, as a restricted (lambda, mu_W); None when that face's minimizer is infeasible.

    Hr = M_r^T M_r, c_r, g_r: the restricted program's Gram matrix, linear term and complementarity weights."""
    A, top, I = _face(zr, n, owner_w, width_w, rel)
    if not len(A):
        return None
    E = np.zeros((len(zr), len(A) + len(I)))  # restricted (lambda, mu_W) = E y, y = (lambda_A, mu_I)
    E[A, np.arange(len(A))] = 1.0
    col_of = np.full(n, -1)
    col_of[A] = np.arange(len(A))
    E[n + top, col_of[owner_w[top]]] = width_w[top]
    E[n + I, len(A) + np.arange(len(I))] = 1.0
    H, c_E, g_E = E.T @ Hr @ E, E.T @ c_r, E.T @ g_r
    y0, y1 = _solve2(H, np.column_stack([c_E, g_E])).T
    tau = _tau(H, y0, y1, c_E, g_E)
    if not (math.isfinite(tau) and tau >= 0):
        return None
    z = E @ (y0 - tau * y1)
    lam, mu = z[:n], z[n:]
    if lam.min() < 0 or (len(I) and (mu.min() < 0 or np.any(mu > width_w * lam[owner_w] * (1 + 1e-12)))):
        return None
    return z
