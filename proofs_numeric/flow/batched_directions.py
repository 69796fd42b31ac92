"""Direction transforms for S runs at once (the rows of an (S, P) tensor), composed as optax composes its own.

A transform maps the gradient rows g (S, P) to direction rows d (S, P) given a ``RowContext`` (the step
number t = 1, 2, ..., theta, each run's norm, log L); the step controller then moves theta_s <- theta_s - eta_s d_s.

* ``RowDualize()``: d_s = dualize(g_s) in run s's norm (``ROW_NORMS[ctx.norm_idx[s]]``), or in one fixed norm:
    l2:   g / ||g||_2;
    l1:   sign(g_i*) e_i*, i* the FIRST argmax |g_i| (greedy coordinate descent);
    linf: sign(g), sign(0) = 0 (sign descent);
  a row g = 0 gets d = 0. These are the selections of ``kktcheck.norm(name).dualize`` on one run (tested equal).
  It leaves each run's dual norm ||g_s||_* in the context (``ctx.gdual``), the steepest step's other factor, and
  in the per-run mode also all three (``ctx.duals``, S x 3: ||g||_inf, ||g||_2, ||g||_1).
* ``KinkSlide()``: coordinate descent through ReLU kinks (Filippov sliding), a transform with memory.
* ``RowState(transform)``: an elementwise ``proofs_numeric.optim.transforms`` transform (``Momentum``,
  ``AdamDirection``) on all rows at once, its state (moments) kept per row: the package's own update formulas.
* ``GradientFeed(gradient, n)``: what a discrete optimizer is fed, as ``flow.OptimizerStep``: "log_loss" G,
  "loss" L G, "mean_loss" (L / n) G = exp(log L - log n) G.
* ``RowChain(t1, t2, ...)`` applies left to right; ``RowPartition(labels, {name: transform})`` gives each
  run the transform of its label (one label per run, fixed for the whole run).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .optimizer_step import GRADIENTS

ROW_NORMS = ("l1", "l2", "linf")     # norm index of a run: its position here
L1, L2, LINF = 0, 1, 2


def row_norms(theta) -> torch.Tensor:
    """(S, 3): ||theta_s||_1, ||theta_s||_2, ||theta_s||_inf of the rows of theta (S, P)."""
    m = theta.abs()
    return torch.stack([m.sum(1), torch.linalg.vector_norm(theta, dim=1), m.amax(1)], 1)


def row_dual_norms(g) -> torch.Tensor:
    """(S, 3): the dual norms of l1, l2, linf, i.e. ||g_s||_inf, ||g_s||_2, ||g_s||_1."""
    m = g.abs()
    return torch.stack([m.amax(1), torch.linalg.vector_norm(g, dim=1), m.sum(1)], 1)


def _dual_norm(g, kind: int) -> torch.Tensor:
    """The dual norm of ROW_NORMS[kind] of every row: ||g||_inf (l1), ||g||_2 (l2), ||g||_1 (linf)."""
    if kind == L2:
        return torch.linalg.vector_norm(g, dim=1)
    return g.abs().amax(1) if kind == L1 else g.abs().sum(1)


def row_dualize(g, norm_idx, l2_norms=None) -> torch.Tensor:
    """dualize(g_s) in norm ROW_NORMS[norm_idx_s] for every row (the module docstring's selections);
    ``l2_norms``: ||g_s||_2 (S,) when already known (``row_dual_norms(g)[:, 1]``)."""
    kinds = [k for k in (L1, L2, LINF) if bool((norm_idx == k).any())]
    if len(kinds) == 1:                                          # one norm for every run: no row selection
        return _dualize_rows(g, kinds[0], l2_norms)
    u = torch.sign(g)                                            # linf rows; sign(0) = 0
    for k in (L2, L1):
        rows = torch.nonzero(norm_idx == k).squeeze(1)
        if rows.numel():
            u[rows] = _dualize_rows(g[rows], k, None if l2_norms is None else l2_norms[rows])
    return u


def _dualize_rows(g, kind: int, l2_norms=None) -> torch.Tensor:
    if kind == LINF:
        return torch.sign(g)
    if kind == L2:
        g2 = torch.linalg.vector_norm(g, dim=1, keepdim=True) if l2_norms is None else l2_norms.unsqueeze(1)
        return g / torch.where(g2 > 0, g2, torch.ones_like(g2))                # a row g = 0 stays 0
    i = g.abs().argmax(1, keepdim=True)                                       # l1: the first argmax
    return torch.zeros_like(g).scatter_(1, i, torch.sign(g.gather(1, i)))


def norm_index(name: str) -> int:
    """The index of a norm name in ROW_NORMS (ValueError for any other norm)."""
    if name not in ROW_NORMS:
        raise ValueError(f"batched runs support the norms {ROW_NORMS}, got {name!r}; train other norms run by run "
                         "with flow.integrate")
    return ROW_NORMS.index(name)


@dataclass
class RowContext:
    """What a transform sees at the step from theta_(t-1) to theta_t (t = 1, 2, ...) of S runs."""
    t: int
    theta: torch.Tensor                 # (S, P)
    norm_idx: torch.Tensor              # (S,) each run's norm, an index into ROW_NORMS
    log_L: torch.Tensor                 # (S,)
    theta_norms: torch.Tensor | None = None   # (S, 3) ||theta_s||_1, _2, _inf when the loop computed them
    duals: torch.Tensor | None = None   # (S, 3) set by RowDualize
    gdual: torch.Tensor | None = None   # (S,) set by RowDualize: ||g_s||_* in run s's norm

    def rows(self, idx) -> "RowContext":
        """The context of the runs ``idx`` (a slice or an index tensor); its tensors are taken on first use."""
        return _Rows(self, idx)


class _Rows(RowContext):
    """RowContext of a subset of the runs, sliced lazily (most transforms read only t)."""

    def __init__(self, parent: RowContext, idx):
        self.t, self.parent, self.idx, self.duals, self.gdual = parent.t, parent, idx, None, None
        self.theta_norms = None if parent.theta_norms is None else parent.theta_norms[idx]

    theta = property(lambda self: self.parent.theta[self.idx])
    norm_idx = property(lambda self: self.parent.norm_idx[self.idx])
    log_L = property(lambda self: self.parent.log_L[self.idx])


class RowDualize:
    """d = dualize(g) per row, in each run's norm (``norm=None``) or in the fixed ``norm``; see the module doc."""

    def __init__(self, norm: str | None = None):
        self.fixed = None if norm is None else norm_index(norm)

    def update(self, g, ctx: RowContext):
        if self.fixed is not None:                     # one norm: only its dual norm is needed
            ctx.gdual = _dual_norm(g, self.fixed)
            return _dualize_rows(g, self.fixed, ctx.gdual if self.fixed == L2 else None)
        ctx.duals = row_dual_norms(g)
        ctx.gdual = ctx.duals.gather(1, ctx.norm_idx.view(-1, 1)).squeeze(1)
        return row_dualize(g, ctx.norm_idx, ctx.duals[:, 1])


class RowChain:
    def __init__(self, *transforms):
        self.transforms = transforms

    def update(self, g, ctx):
        for tr in self.transforms:
            g = tr.update(g, ctx)
        return g


class RowPartition:
    """Run s gets ``transforms[labels[s]]`` (each transform sees only its runs' rows, every step the same rows)."""

    def __init__(self, labels, transforms: dict):
        missing = sorted(set(labels) - set(transforms))
        if missing:
            raise ValueError(f"no transform for label(s) {missing}; known: {sorted(transforms)}")
        groups = [(tr, [s for s, lab in enumerate(labels) if lab == name]) for name, tr in transforms.items()]
        self.groups = [(tr, _rows(rows)) for tr, rows in groups if rows]
        self.index = {}

    def update(self, g, ctx):
        if len(self.groups) == 1:
            return self.groups[0][0].update(g, ctx)
        out = torch.empty_like(g)
        for tr, rows in self.groups:
            if isinstance(rows, list):                 # not contiguous: an index tensor on g's device, made once
                key = (tuple(rows), g.device)
                rows = self.index.setdefault(key, torch.tensor(rows, dtype=torch.long, device=g.device))
            out[rows] = tr.update(g[rows], ctx.rows(rows))
        return out


def _rows(rows: list):
    """A slice for consecutive run indices (views instead of copies), else the list itself."""
    return slice(rows[0], rows[-1] + 1) if rows == list(range(rows[0], rows[-1] + 1)) else rows


class RowState:
    """An elementwise optim transform (Momentum, AdamDirection) on the (S, P) rows, with its state kept here."""

    def __init__(self, transform):
        self.transform, self.state = transform, {}

    def update(self, g, ctx):
        return self.transform.update([g], [self.state], [ctx.theta], ctx.t)[0]


class GradientFeed:
    """g -> the gradient a discrete optimizer is fed (``flow.OptimizerStep``'s ``gradient``), from G = grad log L."""

    def __init__(self, gradient: str = "mean_loss", n: int = 1):
        if gradient not in GRADIENTS:
            raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
        self.gradient, self.log_n = gradient, (math.log(n) if gradient == "mean_loss" else 0.0)

    def update(self, g, ctx):
        if self.gradient == "log_loss":
            return g
        return torch.exp(ctx.log_L - self.log_n).unsqueeze(1) * g


class KinkSlide:
    """CD through ReLU kinks: the Filippov sliding rule for the single-coordinate step (state of S runs).

    Without it a CD run can stall where one training point sits on the kink of one neuron: the largest
    |g_i| is the same coordinate on both sides of the kink with opposite signs, so each l1 step crosses the
    kink and the next crosses back (measured: 17 of 20 seeds at init scale 1e-3 stalled with L > 1,
    alternating sign of the same g_i, kappa at its floor, no exactly-zero pre-activation). The l1 flow slides
    along the kink instead, moving with an element of the Clarke subdifferential whose i-th entry is 0.
    Rule: when the argmax coordinate i of the raw gradient g_t equals i_{t-1} and g_t[i] g_{t-1}[i] < 0 (a
    kink was just crossed along i), g_{t-1} is kept as the other side's gradient g_o. While the argmax of the
    raw gradient stays i and g_t[i] g_o[i] < 0, the step uses the convex combination
        g_c = (1 - lam) g_t + lam g_o,   lam = g_t[i] / (g_t[i] - g_o[i]) in (0, 1),   so g_c[i] = 0,
    (a Clarke generalized gradient of the two one-sided pieces) and CD's first argmax of |g_c| picks the
    coordinate j to move, provided g_c[j] g_t[j] > 0 (the step still descends on the current side; else the raw
    g_t is used). The memory is dropped once the raw argmax leaves i. g_o is the gradient one step
    before sliding started (not refreshed while sliding). As a transform it acts on the l1 runs' rows."""

    def __init__(self, g=None):
        self.i_prev = None
        if g is not None:
            self._start(g)

    def _start(self, g):
        self.i_prev = torch.full((g.shape[0],), -1, dtype=torch.long, device=g.device)
        self.i_mem = self.i_prev.clone()
        self.g_prev, self.g_mem = torch.zeros_like(g), torch.zeros_like(g)

    def update(self, g, ctx: RowContext):
        return self(g, ctx.norm_idx == L1)

    def __call__(self, g, cd_rows):
        """The gradient to dualize for each run: g_c on the CD rows (bool mask ``cd_rows``) that slide, else g."""
        if self.i_prev is None:
            self._start(g)
        i = g.abs().argmax(1, keepdim=True)
        gi = g.gather(1, i).squeeze(1)
        i = i.squeeze(1)
        flip = cd_rows & (i == self.i_prev) & (gi * self.g_prev.gather(1, i.view(-1, 1)).squeeze(1) < 0)
        if bool(flip.any()):
            self.g_mem = torch.where(flip.unsqueeze(1), self.g_prev, self.g_mem)
        self.i_mem = torch.where(flip, i, torch.where(i == self.i_mem, self.i_mem, torch.full_like(i, -1)))
        self.g_prev, self.i_prev = g, i            # g is a fresh tensor each step and never modified in place
        go = self.g_mem.gather(1, i.view(-1, 1)).squeeze(1)
        use = cd_rows & (i == self.i_mem) & (gi * go < 0)
        if not bool(use.any()):
            return g
        lam = torch.where(use, gi / torch.where(use, gi - go, torch.ones_like(gi)), torch.zeros_like(gi))
        gc = (1 - lam).unsqueeze(1) * g + lam.unsqueeze(1) * self.g_mem
        j = gc.abs().argmax(1, keepdim=True)
        use = use & (gc.gather(1, j) * g.gather(1, j) > 0).squeeze(1)   # still a descent step on this side
        return torch.where(use.unsqueeze(1), gc, g)


__all__ = ["ROW_NORMS", "row_norms", "row_dual_norms", "row_dualize", "norm_index", "RowContext", "RowDualize",
           "RowChain", "RowPartition", "RowState", "GradientFeed", "KinkSlide"]
