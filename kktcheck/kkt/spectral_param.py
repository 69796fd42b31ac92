"""A box parametrization of Z = {lambda >= 0, 0 <= mu_c <= width_c lambda_owner(c)} for L-BFGS-B: reference slopes.

With a reference multiplier ref_i > 0 per sample (fixed during one solver stage, reset from the current lambda
between stages), x = (lambda, v) ranges over the box lambda >= 0, 0 <= v_c <= width_c ref_owner(c), and

    mu_c = lambda_i v_c / ref_i      (i = owner(c)),   i.e. the band slope t_c = v_c / ref_i in [0, width_c].

Every x gives a point of Z (upper bounds stay valid) and every point of Z is reached (lambda_i = 0: mu = 0 for any
v). Where lambda_i > 0 the map is a diffeomorphism that sends the box's faces v_c = 0, v_c = width_c ref_i onto
Z's faces mu_c = 0, mu_c = width_c lambda_i, so a box-stationary point there is a KKT point of the convex program.
The reference keeps v at the scale of lambda: d/dv_c = (lambda_i / ref_i) d/dmu_c, about d/dmu_c near the
reference. (The plain slope form t_c with this factor lambda_i ~ 1 / n stalled L-BFGS-B; the earlier smooth-max
form lambda_i = ell_i + tau log sum exp(mu_c / (width_c tau)) was nonsmooth in effect for tau ~ s / n and took
400 iterations per stage at n = 256 with 2758 band columns, against about 200 in all with this one.)
"""
from __future__ import annotations

import numpy as np

REF_FLOOR = 1e-3  # ref_i >= REF_FLOOR / n, so the slope of a sample with lambda_i = 0 can still move


class SlopeParam:
    def __init__(self, n: int, owner: np.ndarray, width: np.ndarray, lam_ref: np.ndarray):
        self.n, self.owner, self.width = n, np.asarray(owner, dtype=int), np.asarray(width, dtype=np.float64)
        self.k = len(self.owner)
        self.ref = np.maximum(np.asarray(lam_ref, dtype=np.float64), REF_FLOOR / n)[self.owner]

    def bounds(self) -> list:
        return [(0.0, None)] * self.n + list(zip([0.0] * self.k, self.width * self.ref))

    def zeta(self, x: np.ndarray) -> np.ndarray:
        """(lambda, mu) with mu_c = lambda_owner v_c / ref_owner."""
        if not self.k:
            return x.copy()
        return np.concatenate([x[:self.n], x[:self.n][self.owner] * x[self.n:] / self.ref])

    def grad(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Gradient in x from the gradient g in zeta (chain rule)."""
        if not self.k:
            return g
        gm = g[self.n:]
        lam = g[:self.n] + np.bincount(self.owner, gm * x[self.n:] / self.ref, minlength=self.n)
        return np.concatenate([lam, gm * x[:self.n][self.owner] / self.ref])

    def x_of(self, zeta: np.ndarray) -> np.ndarray:
        """The box point whose image is zeta for zeta in Z (outside Z: lambda clipped at 0, slopes to [0, width])."""
        if not self.k:
            return np.maximum(zeta, 0.0)
        lam = np.maximum(zeta[:self.n], 0.0)
        lo = lam[self.owner]
        v = np.divide(zeta[self.n:] * self.ref, lo, out=np.zeros(self.k), where=lo > 0)
        return np.concatenate([lam, np.clip(v, 0.0, self.width * self.ref)])
