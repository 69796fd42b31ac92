"""l_p norms of the flattened parameter vector (all layers concatenated).

||x||_p = (sum_j |x_j|^p)^{1/p}; dual l_q with 1/p + 1/q = 1.

Duality maps (selections at non-unique points):
* l2:   u = g / ||g||_2.
* l1:   u = sign(g_{i*}) e_{i*} with i* the FIRST index of max |g_i| (greedy coordinate descent).
* linf: u = sign(g) with sign(0) = 0 (sign descent); every coordinate with g_i = 0 gets 0.
* lp:   u_i = sign(g_i) |g_i|^{q-1} / ||g||_q^{q-1}   (unique for 1 < p < inf).
"""
from __future__ import annotations

import math

import torch

from ..params import flatten, unflatten
from .base import Norm, _put_back, _unit_max


def _lp(v: torch.Tensor, p: float) -> torch.Tensor:
    """||v||_p = m ||v / m||_p with m = max |v_j|: no square or power of a large entry overflows, none of a
    small one underflows (torch's vector_norm does not rescale: ||(1e200, 1e200)||_2 came out inf)."""
    if p == 1:
        return v.abs().sum()
    if not v.numel():
        return v.new_zeros(())
    av = v.abs()
    m = av.max()
    mf = float(m)
    if math.isinf(p) or mf == 0 or not math.isfinite(mf):
        return m
    a = av / mf
    if p == 2:
        return mf * torch.linalg.vector_norm(a)
    return mf * (a ** p).sum() ** (1.0 / p)


def _l2_from_max(v: torch.Tensor, m: float):
    """(||v||_2 = m ||a||_2, a = v / m, ||a||_2) for m = max |v_j| > 0 (0 and v for m = 0)."""
    if m == 0:
        return 0.0, v, 0.0
    a = v / m
    r = torch.linalg.vector_norm(a)
    return m * r, a, r


class LpNorm(Norm):
    """l_p norm of the concatenation of all blocks, 1 <= p <= inf."""

    def __init__(self, p: float):
        p = float(p)
        if not p >= 1:
            raise ValueError(f"l_p needs p >= 1 (got p = {p}); for p < 1 it is not a norm")
        self.p = p
        self.q = math.inf if p == 1 else (1.0 if math.isinf(p) else p / (p - 1.0))
        self.name = {1.0: "l1", 2.0: "l2", math.inf: "linf"}.get(p, f"lp:{p:g}")

    @property
    def dual_norm(self) -> "LpNorm":
        return LpNorm(self.q)

    @property
    def smooth(self) -> bool:
        return 1 < self.p < math.inf

    def _value(self, xs):
        return _lp(flatten(xs), self.p)

    def _dual_value(self, gs):
        return _lp(flatten(gs), self.q)

    def __call__(self, theta) -> float:
        """||theta||_p as the base class; for l2 the largest |entry| found while rescaling is reused (the same
        number: ||x||_2 = m ||x / m||_2 with m = max |x_j|, x / m and |x| / m have the same squares)."""
        if self.p != 2:
            return super().__call__(theta)
        e, xs, m = _unit_max(theta, "theta")
        return _put_back(_l2_from_max(flatten(xs), m)[0], e, "theta", "||.||")

    def dual_and_dualize(self, g):
        """(||g||_q, dualize(g)) as the base class, with the blocks flattened once and the largest |g_j| found
        while rescaling reused: it is ||g||_inf (the dual of l1) and decides g = 0; for l2 the rescaled vector
        a = g / max|g_j| and ||a||_2 are shared: ||g||_2 = max|g_j| ||a||_2 and u = a / ||a||_2 (the same
        numbers as ``dual`` and ``dualize``)."""
        e, gs, m = _unit_max(g, "g")
        if m == 0:
            return 0.0, [torch.zeros_like(b) for b in gs]
        v = flatten(gs)
        if self.p == 2:
            value, a, r = _l2_from_max(v, m)
            return _put_back(value, e, "g", "||.||_*"), unflatten(a / r, gs)
        value = m if self.p == 1 else _lp(v, self.q)
        return _put_back(value, e, "g", "||.||_*"), self._dualize_flat(v, gs, nonzero=True)

    def _dualize(self, gs):
        return self._dualize_flat(flatten(gs), gs)

    def _dualize_flat(self, g, gs, nonzero=False):
        """dualize of the flattened g (blocks ``gs`` give the shapes); ``nonzero``: g != 0 is known."""
        if not nonzero and not bool(g.any()):
            return [torch.zeros_like(b) for b in gs]
        if self.p == 2:
            a = g / g.abs().max()  # rescale first: g / ||g||_2 is 0 or NaN when ||g||_2 over/underflows
            u = a / torch.linalg.vector_norm(a)
        elif math.isinf(self.p):
            u = torch.sign(g)
        elif self.p == 1:
            i = int(torch.argmax(g.abs()))  # torch.argmax returns the first maximal index
            u = torch.zeros_like(g)
            u[i] = torch.sign(g[i])
        else:
            a = g.abs() / g.abs().max()  # rescale for overflow safety; u is scale invariant
            w = a ** (self.q - 1.0)
            u = torch.sign(g) * w / _lp(a, self.q) ** (self.q - 1.0)
        return unflatten(u, gs)

    def subdifferential_cvxpy(self, theta, h, t, tol):
        """l1: h_j = t sign(theta_j) off Z = {|theta_j| <= tol ||theta||_inf}, |h_j| <= t on Z; linf: the convex
        hull of the near-maximal signed coordinates; 1 < p < inf: the unique t * subgradient."""
        from ..subdiff import lp_constraints
        return lp_constraints(self, theta, h, t, tol)

    def cvxpy(self, xs):
        import cvxpy as cp
        v = cp.hstack([cp.vec(x, order="C") for x in xs]) if len(xs) > 1 else cp.vec(xs[0], order="C")
        return cp.norm(v, "inf" if math.isinf(self.p) else self.p)

    def __repr__(self):
        return f"kc.norm({self.name!r})"
