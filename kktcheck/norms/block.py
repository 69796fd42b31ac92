"""Block (layer-wise) norms: the simplified modular norm max_l ||W_l||_(l) (and its dual sum_l ||G_l||_(l),*).

* ``BlockNorm("max", norms, scales=c)``: ||theta|| = max_l ||W_l||_(l) / c_l.
  Dual: sum_l c_l ||G_l||_(l),*.  Duality map: D_l = c_l * dualize_l(G_l) in EVERY block
  (the normalized direction decouples; per-layer step sizes c_l).
* ``BlockNorm("sum", norms, scales=w)``: ||theta|| = sum_l w_l ||W_l||_(l).
  Dual: max_l ||G_l||_(l),* / w_l.  Duality map: all mass in the FIRST block l* attaining that max,
  D_{l*} = dualize_{l*}(G_{l*}) / w_{l*}, zero elsewhere.

``norms`` is one Norm applied to every block, or a list with one Norm per block; each acts on a
one-element list ``[W_l]``. The two combinations are dual to each other.
"""
from __future__ import annotations


import torch

from .base import Norm


class BlockNorm(Norm):
    def __init__(self, combine: str, norms, scales=None, name: str | None = None):
        if combine not in ("max", "sum"):
            raise ValueError(f"combine must be 'max' or 'sum', got {combine!r}")
        self.combine = combine
        self.norms = norms
        self.scales = None if scales is None else [float(c) for c in scales]
        if self.scales is not None and any(not c > 0 for c in self.scales):
            raise ValueError(f"block scales must be positive, got {self.scales}")
        self.name = name or f"block-{combine}"

    def _layout(self, xs):
        n = len(xs)
        norms = list(self.norms) if isinstance(self.norms, (list, tuple)) else [self.norms] * n
        scales = self.scales if self.scales is not None else [1.0] * n
        if len(norms) != n or len(scales) != n:
            raise ValueError(f"{self.name}: parameters have {n} blocks but the norm was built for "
                             f"{len(norms) if isinstance(self.norms, (list, tuple)) else len(scales)}; "
                             "give one per-layer norm and scale per parameter tensor")
        return norms, scales

    @property
    def dual_norm(self) -> "BlockNorm":
        other = "sum" if self.combine == "max" else "max"
        dn = [n.dual_norm for n in self.norms] if isinstance(self.norms, (list, tuple)) else self.norms.dual_norm
        return BlockNorm(other, dn, self.scales, name=f"dual({self.name})")

    def _value(self, xs):
        norms, c = self._layout(xs)
        vals = torch.stack([n._value([x]) for n, x in zip(norms, xs)])
        cs = vals.new_tensor(c)
        return (vals / cs).max() if self.combine == "max" else (vals * cs).sum()

    def _dual_value(self, gs):
        norms, c = self._layout(gs)
        vals = torch.stack([n._dual_value([g]) for n, g in zip(norms, gs)])
        cs = vals.new_tensor(c)
        return (vals * cs).sum() if self.combine == "max" else (vals / cs).max()

    def _dualize(self, gs):
        norms, c = self._layout(gs)
        if self.combine == "max":
            return [cl * n._dualize([g])[0] for n, g, cl in zip(norms, gs, c)]
        duals = [float(n._dual_value([g])) / cl for n, g, cl in zip(norms, gs, c)]
        out = [torch.zeros_like(g) for g in gs]
        best = max(range(len(gs)), key=lambda l: (duals[l], -l))
        if duals[best] > 0:
            out[best] = norms[best]._dualize([gs[best]])[0] / c[best]
        return out

    def subdifferential_cvxpy(self, theta, h, t, tol):
        """"max": near-maximal blocks share t (weights summing to 1), the others 0; "sum": every block in
        (t c_l) d||theta_l||, near-zero blocks in the dual ball of radius t c_l."""
        from ..subdiff import block_constraints
        return block_constraints(self, theta, h, t, tol)

    def cvxpy(self, xs):
        import cvxpy as cp
        norms, c = self._layout(xs)
        terms = [n.cvxpy([x]) for n, x in zip(norms, xs)]
        if self.combine == "max":
            return cp.max(cp.hstack([t / cl for t, cl in zip(terms, c)]))
        return sum(t * cl for t, cl in zip(terms, c))

    def psd_entries(self, shapes) -> int:
        """Sum over blocks of the per-block norms' PSD-cone entries."""
        norms, _ = self._layout(shapes)
        return sum(n.psd_entries([sh]) for n, sh in zip(norms, shapes))

    def __repr__(self):
        return (f"BlockNorm({self.combine!r}, {self.norms!r}, scales={self.scales!r}, name={self.name!r})")
