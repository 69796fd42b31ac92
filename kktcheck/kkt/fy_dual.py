"""Certified lower bound of the Fenchel-Young KKT measure by weak duality (docs/kkt.md, "Working set and certified gap").

Scaled variables (kkt/fy.py): zeta = z L / rho^2 in Z = {lambda >= 0, 0 <= mu_c <= width_c lambda_owner(c)},
M = (rho / L) G (so M zeta = u / rho), c = G^T theta~ / L, gt = (q - 1) on the lambda entries and 0 on mu:

    measure = min_{zeta in Z} max(F(zeta), gt . zeta),     F(zeta) = 1/2 + 1/2 ||M zeta||_*^2 - c . zeta.

Weak duality. For every P-vector v, Fenchel-Young for 1/2||.||^2 (primal norm ||.||, dual ||.||_*) gives
1/2||M zeta||_*^2 >= <v, M zeta> - 1/2||v||^2, and max(a, b) >= (1 - t) a + t b for t in [0, 1]. Hence

    measure >= LB(t, v) = (1 - t)(1/2 - 1/2||v||^2) + min_{zeta in Z_B} s . zeta,
    s = (1 - t)(M^T v - c) + t gt,

where Z_B = {zeta in Z : zeta_i <= B_i, sum_i kappa_i(c) zeta_i <= 2}, kappa_i(w) = w_i + sum_{c owned by i}
width_c min(w_c, 0) (the smallest value of w over sample i's cone slice per unit lambda_i) and
B_i = min(1 / (2 gt_i), 2 / kappa_i(c)) where defined. Z_B holds every minimizer: zeta = 0 gives 1/2, so a
minimizer has gt . zeta <= 1/2 (nonnegative terms) and F <= 1/2, i.e. 1/2 ||M zeta||_*^2 <= c . zeta <=
||M zeta||_* (Hoelder: c . zeta = <theta~ / rho, M zeta>), so c . zeta <= 2, and c . zeta >= sum_i kappa_i(c)
zeta_i on Z. The linear minimum is in closed form (``_linear_min``: per sample kappa_i(s) zeta_i, then a
fractional knapsack); kappa_i(c) is about q_i >= 1 by Euler's identity, and a sample with neither cap and
kappa_i(s) < 0 makes it -inf (no bound).

Strong duality holds (Z_B is compact, Sion's minimax theorem for the jointly concave perspective in (t, (1 - t) v)),
so LB at the optimal (t, v) equals the measure: for l2 v = M zeta* (the gradient of 1/2||.||^2 at M zeta*), for
l1 / linf v comes from the multipliers of the restricted program (kkt/fy_working.py). t is then chosen by
maximizing the concave function t -> LB(t, v) on [0, 1] (golden section).
"""
from __future__ import annotations

import math

import numpy as np

GOLDEN_STEPS = 90


def kappa(w: np.ndarray, n: int, owner: np.ndarray, width: np.ndarray) -> np.ndarray:
    """kappa_i(w) = w_i + sum_{c owned by i} width_c min(w_c, 0) (w: (n + k,) over (lambda, mu))."""
    out = np.array(w[:n], dtype=np.float64)
    if len(owner):
        out += np.bincount(owner, weights=width * np.minimum(w[n:], 0.0), minlength=n)
    return out


def caps(kc: np.ndarray, gt_lam: np.ndarray) -> np.ndarray:
    """Per-sample caps B_i on zeta_i valid for every minimizer: g_i zeta_i <= gt . zeta <= 1/2 and (kappa_i(c) > 0)
    kappa_i(c) zeta_i <= 2 (module docstring); inf where neither applies."""
    with np.errstate(divide="ignore"):
        b1 = np.where(gt_lam > 0, 0.5 / np.where(gt_lam > 0, gt_lam, 1.0), np.inf)
        b2 = np.where(kc > 0, 2.0 / np.where(kc > 0, kc, 1.0), np.inf)
    return np.minimum(b1, b2)


def _linear_min(s, kc, cap, n, owner, width) -> float:
    """min of s . zeta over Z_B = {zeta in Z: zeta_i <= B_i, sum_i kappa_i(c) zeta_i <= 2} (a superset of it
    when some kappa_i(c) <= 0): per sample the cone slice gives kappa_i(s) zeta_i; the rest is a fractional
    knapsack (greedy by kappa_i(s) / kappa_i(c)). -inf if unbounded below."""
    ks = np.minimum(kappa(s, n, owner, width), 0.0)
    neg = ks < 0
    if np.any(np.isinf(cap[neg])):
        return -math.inf
    pos = kc > 0
    free = ~pos & neg  # kappa_i(c) <= 0: only the cap; they loosen the knapsack by |kappa_i(c)| B_i
    total = float(np.sum(ks[free] * cap[free]))
    room = 2.0 + float(np.sum(-kc[~pos] * np.where(np.isinf(cap[~pos]), 0.0, cap[~pos])))
    if np.any(~pos & np.isinf(cap)):
        room = math.inf
    idx = np.flatnonzero(pos & neg)
    idx = idx[np.argsort(ks[idx] / kc[idx])]
    use = kc[idx] * cap[idx]  # room taken when zeta_i = B_i
    before = np.concatenate([[0.0], np.cumsum(use)[:-1]])
    frac = np.clip((room - before) / np.where(use > 0, use, 1.0), 0.0, 1.0)
    return total + float(np.sum(ks[idx] * cap[idx] * frac))


class LowerBound:
    """t -> LB(t, v) for a fixed v (module docstring); ``best()`` maximizes it over t in [0, 1]."""

    def __init__(self, a: np.ndarray, v_norm: float, c: np.ndarray, gt: np.ndarray, n, owner, width):
        """a = M^T v - c ((n + k,)), v_norm = ||v|| in the primal norm; c, gt as in the module docstring."""
        self.a, self.v_norm, self.gt, self.n, self.owner, self.width = a, v_norm, gt, n, owner, width
        self.kc = kappa(c, n, owner, width)
        self.cap = caps(self.kc, gt[:n])

    def slope(self, t: float) -> np.ndarray:
        """s = (1 - t) a + t gt, the reduced costs of the (lambda, mu) entries at weight t."""
        return (1.0 - t) * self.a + t * self.gt

    def __call__(self, t: float) -> float:
        return (1.0 - t) * (0.5 - 0.5 * self.v_norm ** 2) + _linear_min(self.slope(t), self.kc, self.cap, self.n,
                                                                           self.owner, self.width)

    def best(self, hint: float | None = None) -> tuple[float, float]:
        """(t, LB(t)) maximizing the concave t -> LB(t, v) on [0, 1]; golden section, then the best of it, the
        end points and ``hint`` (the restricted program's own weight)."""
        lo, hi = 0.0, 1.0
        g = (math.sqrt(5.0) - 1.0) / 2.0
        x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
        f1, f2 = self(x1), self(x2)
        for _ in range(GOLDEN_STEPS):
            if f1 < f2:
                lo, x1, f1 = x1, x2, f2
                x2 = lo + g * (hi - lo)
                f2 = self(x2)
            else:
                hi, x2, f2 = x2, x1, f1
                x1 = hi - g * (hi - lo)
                f1 = self(x1)
        cands = [0.0, 1.0, x1, x2] + ([min(max(hint, 0.0), 1.0)] if hint is not None and math.isfinite(hint) else [])
        vals = [self(t) for t in cands]
        i = int(np.argmax(vals))
        return cands[i], vals[i]
