"""A box parametrization of Z = {lambda >= 0, 0 <= mu_c <= width_c lambda_owner(c)} for L-BFGS-B.

x = (ell, mu) with ell >= 0, mu >= 0 (mu_c = 0 where width_c = 0), mapped to

    lambda_i = ell_i + smax_i(mu / width),   smax_i(v) = tau log sum_{c of i} exp(v_c / tau)  (0 without band),

so mu_c / width_c <= max_c v_c <= smax_i <= lambda_i: every x gives a point of Z (upper bounds stay valid), and the
map is a diffeomorphism of the box onto its image (inverse ell_i = lambda_i - smax_i), so a convex F composed
with it has no spurious local minima; the image misses only the sliver lambda_i < max + tau log k_i, which
vanishes with tau (tied to the smoothing level). mu keeps the natural scale of lambda (a slope parametrization
mu_c = width_c lambda_i t_c scales the t-gradients by lambda_i ~ 1/n and stalled L-BFGS-B).
"""
from __future__ import annotations

import numpy as np


class BoxParam:
    def __init__(self, n: int, owner: np.ndarray, width: np.ndarray):
        self.n, self.owner, self.width = n, np.asarray(owner, dtype=int), np.asarray(width, dtype=np.float64)
        self.k = len(self.owner)
        self.safe_w = np.where(self.width > 0, self.width, 1.0)

    def bounds(self) -> list:
        return [(0.0, None)] * self.n + [(0.0, None if w > 0 else 0.0) for w in self.width]

    def _smax(self, mu: np.ndarray, tau: float):
        """(smax_i for every sample, softmax weight of every band column within its sample)."""
        v = mu / self.safe_w
        top = np.full(self.n, -np.inf)
        np.maximum.at(top, self.owner, v)
        e = np.exp((v - top[self.owner]) / tau)
        tot = np.bincount(self.owner, e, minlength=self.n)
        sm = np.where(np.isfinite(top), top + tau * np.log(np.where(tot > 0, tot, 1.0)), 0.0)
        return sm, e / tot[self.owner]

    def zeta(self, x: np.ndarray, tau: float) -> np.ndarray:
        if not self.k:
            return x.copy()
        sm, _ = self._smax(x[self.n:], tau)
        return np.concatenate([x[:self.n] + sm, x[self.n:]])

    def grad(self, x: np.ndarray, g: np.ndarray, tau: float) -> np.ndarray:
        """Gradient in x from the gradient g in zeta (chain rule through the smooth max)."""
        if not self.k:
            return g
        _, p = self._smax(x[self.n:], tau)
        return np.concatenate([g[:self.n], g[self.n:] + g[:self.n][self.owner] * p / self.safe_w])

    def x_of(self, zeta: np.ndarray, tau: float) -> np.ndarray:
        """A box point whose image is zeta when zeta is inside the image (else lambda is raised to fit)."""
        if not self.k:
            return zeta.copy()
        mu = np.where(self.width > 0, np.maximum(zeta[self.n:], 0.0), 0.0)
        sm, _ = self._smax(mu, tau)
        return np.concatenate([np.maximum(zeta[:self.n] - sm, 0.0), mu])
