"""The Norm interface: one method per mathematical operation (modula habit).

For a norm ||.|| on parameter space (a list of blocks, one per layer):

* ``nrm(theta)``          the value ||theta||;
* ``nrm.dual(g)``         the dual norm ||g||_* = sup_{||u|| <= 1} <g, u>;
* ``nrm.dualize(g)``      a unit-norm u with <g, u> = ||g||_* (the duality map; zero for g = 0).
                          The un-normalized steepest-descent step theta <- theta + eta Delta, Delta in argmin_{||u|| <= ||g||_*} <g, u>, is ``-nrm.dual(g) * nrm.dualize(g)``;
* ``nrm.dual_and_dualize(g)`` both, validated once (the steepest step's two factors);
* ``nrm.subgradient(x)``  an element v of the subdifferential of ||.|| at x (the norm's subdifferential {v : ||v||_* = 1, <v, x> = ||x||} for x != 0):
                          ||v||_* = 1 and <v, x> = ||x|| (for x != 0); this is the duality map of the
                          dual norm, ``nrm.dual_norm.dualize(x)``;
* ``nrm.dual_norm``       the dual norm as a Norm object (its dual is again ``nrm``);
* ``nrm.cvxpy(xs)``       the norm of cvxpy expressions shaped like the blocks (for convex programs);
* ``nrm.psd_entries(shapes)`` the number of entries of the PSD cones that ``nrm.cvxpy`` needs on blocks of these
                          shapes (0 when it is a second-order-cone/LP expression): the size of the SDP a convex
                          program with this norm hands to the solver, known before any work.

* ``nrm.log_value(theta)`` / ``nrm.log_dual(g)``  log ||theta|| and log ||g||_*, finite for any finite
                          non-zero input (use them where the value itself exceeds float64's 1.8e308).

Set-valued maps return a documented deterministic selection; see each subclass.

Scale: the public methods validate their argument (finite, real, non-empty) and work on x / 2^e with
2^(e-1) <= max|x_j| < 2^e (kktcheck.scale): ||x|| = 2^e ||x / 2^e||, dualize(x) = dualize(x / 2^e). A value
beyond float64 raises ValueError pointing at log_value/log_dual instead of returning inf.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Sequence

import torch

from ..params import blocks
from ..scale import check_finite_blocks, log_abs_scaled, scaled_float, times_pow2


def _nonempty(bs):
    if not bs:
        raise ValueError("empty parameter list: pass one array per layer")
    return bs


def _unit(x, name: str) -> tuple[int, list[torch.Tensor]]:
    """Validated blocks of x, divided by 2^e with 2^(e-1) <= max_j |x_j| < 2^e (as kktcheck.scale.unit_scale)."""
    e, xs, _ = _unit_max(x, name)
    return e, xs


def _unit_max(x, name: str) -> tuple[int, list[torch.Tensor], float]:
    """``_unit`` and the largest |entry| of the rescaled blocks (in [1/2, 1), 0 for x = 0; exact: scaling by a
    power of two only changes exponents). One reduction per block, m_k = max |x_j|, gives e, that maximum and
    the finiteness check (NaN and inf propagate through the max; ``check_finite_blocks`` then names the block):
    the hot path's norms and duality maps run every step, and torch.isfinite(x).all() cost ~5x an abs-max."""
    bs = _nonempty(blocks(x, name))
    ms = [float(b.abs().max()) for b in bs if b.numel()]
    if not all(math.isfinite(m) for m in ms):
        check_finite_blocks(bs, name)
    m = max(ms, default=0.0)
    e = math.frexp(m)[1] if m > 0 else 0
    return e, [times_pow2(b, -e) for b in bs], math.ldexp(m, -e)


def _put_back(value, e: int, name: str, what: str) -> float:
    out = scaled_float(float(value), e)
    if not abs(out) < float("inf"):
        raise ValueError(f"{what} of {name} overflows float64 (log = {log_abs_scaled(float(value), e):.6g}); "
                         f"use {'log_value' if what == '||.||' else 'log_dual'}({name}) for its logarithm")
    return out


class Norm(ABC):
    """A norm on parameter lists. Subclasses implement the ``_``-prefixed block-list methods."""

    name: str = "norm"

    def __call__(self, theta) -> float:
        """||theta|| = 2^e ||theta / 2^e||."""
        e, xs = _unit(theta, "theta")
        return _put_back(self._value(xs), e, "theta", "||.||")

    def dual(self, g) -> float:
        """Dual norm ||g||_* = 2^e ||g / 2^e||_*."""
        e, gs = _unit(g, "g")
        return _put_back(self._dual_value(gs), e, "g", "||.||_*")

    def log_value(self, theta) -> float:
        """log ||theta|| (= -inf at theta = 0), finite where ||theta|| itself overflows float64."""
        e, xs = _unit(theta, "theta")
        v = float(self._value(xs))
        return log_abs_scaled(v, e) if v > 0 else -float("inf")

    def log_dual(self, g) -> float:
        """log ||g||_* (= -inf at g = 0)."""
        e, gs = _unit(g, "g")
        v = float(self._dual_value(gs))
        return log_abs_scaled(v, e) if v > 0 else -float("inf")

    def dualize(self, g) -> list[torch.Tensor]:
        """Duality map: a u with ||u|| = 1 and <g, u> = ||g||_* (u = 0 when g = 0); scale invariant in g."""
        return self._dualize(_unit(g, "g")[1])

    def dual_and_dualize(self, g) -> tuple[float, list[torch.Tensor]]:
        """(||g||_*, dualize(g)), the steepest step's two factors, from one validation and one rescaling of g
        (the same numbers as ``dual(g)`` and ``dualize(g)``; the flow's field calls this every step)."""
        e, gs = _unit(g, "g")
        return _put_back(self._dual_value(gs), e, "g", "||.||_*"), self._dualize(gs)

    def steepest(self, g) -> list[torch.Tensor]:
        """Un-normalized steepest step Delta = -||g||_* dualize(g): <g, Delta> = -||g||_*^2, ||Delta|| = ||g||_*."""
        c, u = self.dual_and_dualize(g)
        return [-c * ub for ub in u]

    def subgradient(self, x) -> list[torch.Tensor]:
        """An element of d||x||: the dual norm's duality map at x (zero at x = 0, which lies in the unit dual ball)."""
        return self.dual_norm.dualize(x)

    @property
    @abstractmethod
    def dual_norm(self) -> "Norm":
        """The dual norm as a Norm object."""

    @abstractmethod
    def _value(self, xs: Sequence[torch.Tensor]) -> torch.Tensor: ...

    def _dual_value(self, gs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.dual_norm._value(gs)

    @abstractmethod
    def _dualize(self, gs: Sequence[torch.Tensor]) -> list[torch.Tensor]: ...

    @abstractmethod
    def cvxpy(self, xs: Sequence) -> "object":
        """cvxpy expression of the norm of a list of cvxpy expressions shaped like the blocks."""

    def psd_entries(self, shapes: Sequence[tuple]) -> int:
        """Entries of the PSD cones of ``self.cvxpy`` on blocks of these shapes; 0 for non-matrix norms."""
        return 0

    def dual_cvxpy(self, gs: Sequence):
        """cvxpy expression of the dual norm."""
        return self.dual_norm.cvxpy(gs)

    def subdifferential_cvxpy(self, theta: Sequence, h: Sequence, t, tol: float) -> list:
        """cvxpy constraints for h in t * d||theta|| (theta: nonzero numpy blocks; h: cvxpy expressions shaped by
        ``kktcheck.subdiff.block_shape``; t >= 0 a number or affine expression; ``tol`` the relative near-tie
        enlargement). Here the exact set {||h||_* <= t, <h, theta> = t ||theta||} (no tolerance); norms with ties
        (lp, matrix, block) override it with the enlarged sets of ``kktcheck.subdiff``."""
        from ..subdiff import exact_constraints
        return exact_constraints(self, theta, h, t)

    @property
    def smooth(self) -> bool:
        """True when the duality map is continuous away from 0 (l_p with 1 < p < inf): higher-order ODE schemes apply."""
        return False

    def __repr__(self) -> str:
        return f"kc.norm({self.name!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Norm) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))
