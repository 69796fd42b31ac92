"""Hybrid norms of Muon-Signum and Muon-Adam: matrices in the msp norm, vectors in l_inf.

Blocks with >= 2 dimensions are the matrices W_1..W_K, the other blocks the vector parameters u (the
split of the hybrid optimizers, ``proofs_numeric.optim.transforms.is_matrix``). With a ratio r > 0
(r = eta_0^A / eta_0^M for Muon-Adam, r = 1 for Muon-Signum):

* value     ||theta||_r   = max( r max_k ||W_k||_2 , ||u||_inf );
* dual      ||g||_{r,*}   = (1/r) sum_k ||G_k||_nuc + ||g_u||_1;
* dualize   D_k = (1/r) U_k V_k^T per matrix (thin SVD, rank-truncated as in SpectralMatrix), D_u = sign(g_u)
            with sign(0) = 0: the selection of BlockNorm("max") in EVERY block;
* subgradient at x: the dual norm's duality map, i.e. all mass in the FIRST block attaining
  max( r ||W_k||_2 , max_j |u_j| ) (per-block max, blocks in order): r u_1 v_1^T of that matrix
  (first top singular pair), or sign(u_j*) e_j* at the first largest |u_j| of that vector block.

The unit ball {r ||W||_msp <= 1, ||u||_inf <= 1} is the step set of Muon with rate eta^M and Adam/Signum
with rate eta^A = r eta^M (up to the common factor eta^A). Composed from BlockNorm with per-block norms
and scales 1/r (matrices) and 1 (vectors), chosen from each block's shape when the norm is applied
(``HybridNorm.block(xs)``).
"""
from __future__ import annotations

import math

from .base import Norm
from .block import BlockNorm
from .lp import LpNorm
from .matrix import NuclearMatrix, SpectralMatrix


def _is_matrix(x) -> bool:
    return len(tuple(x.shape)) >= 2


class _Shape:
    """Stands in for a block of the given shape where only the shape is read (``block``)."""

    def __init__(self, shape):
        self.shape = tuple(shape)


def _check_ratio(ratio) -> float:
    try:
        ratio = float(ratio)
    except (TypeError, ValueError):
        raise ValueError(f"hybrid norm ratio must be a finite number > 0, got {ratio!r}") from None
    if not (ratio > 0 and math.isfinite(ratio)):
        raise ValueError(f"hybrid norm ratio (eta_0^A / eta_0^M) must be a finite number > 0, got {ratio}")
    return ratio


class HybridNorm(Norm):
    """max{ r ||W||_msp, ||u||_inf } (``combine="max"``) or its dual (1/r) sum_k ||G_k||_nuc + ||g_u||_1
    (``combine="sum"``). Every operation delegates to the BlockNorm built for the blocks' shapes (``block``), so
    code that dispatches on the exact BlockNorm layout sees a generic Norm (value, dual, dualize, cvxpy)."""

    def __init__(self, ratio: float = 1.0, combine: str = "max", name: str | None = None):
        if combine not in ("max", "sum"):
            raise ValueError(f"combine must be 'max' or 'sum', got {combine!r}")
        self.ratio = _check_ratio(ratio)
        self.combine = combine
        self.name = name or _default_name(self.ratio)

    def block(self, xs) -> BlockNorm:
        """The BlockNorm of this hybrid on blocks shaped like ``xs`` (arrays, tensors or cvxpy expressions)."""
        mats = [_is_matrix(x) for x in xs]
        if self.combine == "max":
            norms = [SpectralMatrix() if m else LpNorm(math.inf) for m in mats]
        else:
            norms = [NuclearMatrix() if m else LpNorm(1.0) for m in mats]
        return BlockNorm(self.combine, norms, [1.0 / self.ratio if m else 1.0 for m in mats], name=self.name)

    @property
    def dual_norm(self) -> "HybridNorm":
        other = "sum" if self.combine == "max" else "max"
        base = self.name[5:-1] if self.name.startswith("dual(") else None
        return HybridNorm(self.ratio, other, name=base or f"dual({self.name})")

    def _value(self, xs):
        return self.block(xs)._value(xs)

    def _dual_value(self, gs):
        return self.block(gs)._dual_value(gs)

    def _dualize(self, gs):
        return self.block(gs)._dualize(gs)

    def cvxpy(self, xs):
        return self.block(xs).cvxpy(xs)

    def psd_entries(self, shapes) -> int:
        """PSD-cone entries of the BlockNorm for blocks of these shapes (its matrix blocks are SDPs)."""
        return self.block([_Shape(sh) for sh in shapes]).psd_entries(shapes)

    def __repr__(self):
        return f"HybridNorm(ratio={self.ratio!r}, combine={self.combine!r}, name={self.name!r})"


def _default_name(ratio: float) -> str:
    return "muon-signum" if ratio == 1.0 else f"muon-adam:{ratio:.15g}"


def muon_signum() -> HybridNorm:
    """Muon-Signum's implicit norm max{ ||W||_msp, ||u||_inf }."""
    return HybridNorm(1.0, name="muon-signum")


def muon_adam(ratio: float) -> HybridNorm:
    """Muon-Adam's implicit norm max{ r ||W||_msp, ||u||_inf } with r = eta_0^A / eta_0^M > 0."""
    r = _check_ratio(ratio)
    return HybridNorm(r, name=_default_name(r))


__all__ = ["HybridNorm", "muon_signum", "muon_adam"]
