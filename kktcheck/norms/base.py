"""The Norm interface: one method per mathematical operation (modula habit).

For a norm ||.|| on parameter space (a list of blocks, one per layer):

* ``nrm(theta)``          the value ||theta||;
* ``nrm.dual(g)``         the dual norm ||g||_* = sup_{||u|| <= 1} <g, u>;
* ``nrm.dualize(g)``      a unit-norm u with <g, u> = ||g||_* (the duality map; zero for g = 0).
                          The steepest-descent step of SPEC Eq. (1) is ``-nrm.dual(g) * nrm.dualize(g)``;
* ``nrm.subgradient(x)``  an element v of the subdifferential of ||.|| at x (SPEC Lemma A.4):
                          ||v||_* = 1 and <v, x> = ||x|| (for x != 0); this is the duality map of the
                          dual norm, ``nrm.dual_norm.dualize(x)``;
* ``nrm.dual_norm``       the dual norm as a Norm object (its dual is again ``nrm``);
* ``nrm.cvxpy(xs)``       the norm of cvxpy expressions shaped like the blocks (for convex programs).

Set-valued maps return a documented deterministic selection; see each subclass.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import torch

from ..params import blocks


def _nonempty(bs):
    if not bs:
        raise ValueError("empty parameter list: pass one array per layer")
    return bs


class Norm(ABC):
    """A norm on parameter lists. Subclasses implement the ``_``-prefixed block-list methods."""

    name: str = "norm"

    def __call__(self, theta) -> float:
        return float(self._value(_nonempty(blocks(theta))))

    def dual(self, g) -> float:
        """Dual norm ||g||_*."""
        return float(self._dual_value(_nonempty(blocks(g))))

    def dualize(self, g) -> list[torch.Tensor]:
        """Duality map: a u with ||u|| = 1 and <g, u> = ||g||_* (u = 0 when g = 0)."""
        return self._dualize(blocks(g))

    def steepest(self, g) -> list[torch.Tensor]:
        """Un-normalized steepest step Delta = -||g||_* dualize(g): <g, Delta> = -||g||_*^2, ||Delta|| = ||g||_*."""
        gb = blocks(g)
        c = -float(self._dual_value(gb))
        return [c * u for u in self._dualize(gb)]

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

    def dual_cvxpy(self, gs: Sequence):
        """cvxpy expression of the dual norm."""
        return self.dual_norm.cvxpy(gs)

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
