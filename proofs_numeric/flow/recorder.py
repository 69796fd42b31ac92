"""What to save along a run (diffrax's SaveAt): every ``save_every`` steps (or at the listed steps) plus the last state.

At each record: s, log t, log L, ||theta|| (algorithm's norm), hard margin min_i q_i / ||theta||^L and
soft margin l^{-1}(L) / ||theta||^L in the algorithm's norm and in each of ``margin_norms``, the
alignment beta = <theta, -G> / (||theta|| ||G||_*) (algorithm's norm), train accuracy (fraction q_i > 0),
and every ``snapshot_every`` steps (or at the listed steps) a copy of the parameters.
``save_every`` and ``snapshot_every`` are a positive int (a cadence) or a collection of step indices.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from kktcheck.norms import norm as make_norm

from ..losses import inverse_loss
from .scaled import unscaled
from .trajectory import Trajectory


def normalized(value: float, r: float, degree: int) -> float:
    """value / r^degree, through logarithms when r^degree leaves float64's normal range (nan at r = 0;
    +-inf only when the ratio itself exceeds float64, e.g. a soft margin before separation at ||theta|| ~ 1e-160)."""
    if not r > 0:
        return float("nan")
    try:
        den = r ** degree
    except OverflowError:      # r^degree beyond float64 (r ~ 1e154, degree 2): the log path below
        den = math.inf
    if 1e-250 < den < 1e250:
        return value / den
    if value == 0:
        return 0.0
    log_ratio = math.log(abs(value)) - degree * math.log(r)
    return math.copysign(math.exp(log_ratio) if log_ratio < 709.0 else math.inf, value)


def _soft_in_frame(ev, loss, log_r, degree) -> float:
    """l^-1(L) / ||theta||^L with log ||theta|| = log_r: exp(log log(1/L) - L log_r) once fitted (finite at every
    depth), else l^-1(L) through its logarithm (log L finite there)."""
    if math.isfinite(ev.log_depth):
        return math.exp(ev.log_depth - degree * log_r)
    v = inverse_loss(ev.log_L, loss)
    return math.copysign(math.exp(math.log(abs(v)) - degree * log_r), v) if v else 0.0


def step_selection(name: str, value):
    """A positive int (every that many steps) or a frozenset of step indices >= 0; ValueError otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value == int(value) and value >= 1:
            return int(value)
        raise ValueError(f"{name} must be a positive integer or a collection of step indices, got {value!r}")
    try:
        steps = frozenset(int(k) for k in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive integer or a collection of step indices (ints >= 0), got "
                         f"{value!r}") from None
    if any(k < 0 for k in steps):
        raise ValueError(f"{name}: step indices must be >= 0, got {sorted(steps)[:3]}")
    return steps


def _selected(selection, k: int) -> bool:
    return k in selection if isinstance(selection, frozenset) else k % selection == 0


class Recorder:
    def __init__(self, norm, degree: int, loss: str, margin_norms=("l1", "l2", "linf"),
                 save_every: int = 1, snapshot_every: int | None = None):
        self.norm, self.degree, self.loss = norm, degree, loss
        self.save_every = step_selection("save_every", save_every)
        self.snapshot_every = None if snapshot_every is None else step_selection("snapshot_every", snapshot_every)
        self.others = {n if isinstance(n, str) else n.name: make_norm(n) for n in margin_norms}
        self.others[norm.name] = norm
        self.rows: list[tuple] = []
        self.hard = {k: [] for k in self.others}
        self.soft = {k: [] for k in self.others}
        self.snapshots: list = []
        self.last_step = -1

    def due(self, k: int) -> bool:
        """Record at step k: a save step or a snapshot step (a snapshot always has its record)."""
        return _selected(self.save_every, k) or (self.snapshot_every is not None and
                                                 _selected(self.snapshot_every, k))

    def record(self, k, params, ev, clock, theta_norm):
        """Record step k: ``params`` = P and ``theta_norm`` = ||P|| in the frame theta = e^kappa P (kappa =
        ev.log_scale, ``flow.scaled``; P = theta when kappa = 0). Hard margins min_i q_i / ||theta||^L are the
        same in the frame; the soft margin log(1/L) / ||theta||^L is exp(log log(1/L) - L log ||theta||) there."""
        if k == self.last_step:
            return
        self.last_step = k
        kappa = ev.log_scale
        log_r = kappa + (math.log(theta_norm) if theta_norm < math.inf else self.norm.log_value(params)) \
            if theta_norm > 0 else -math.inf
        with torch.no_grad():
            qmin = float(ev.q.min())
            inv = inverse_loss(ev.log_L, self.loss) if not kappa else None
            for name, nrm in self.others.items():
                r = theta_norm if nrm is self.norm else nrm(params)
                self.hard[name].append(normalized(qmin, r, self.degree))
                self.soft[name].append(normalized(inv, r, self.degree) if not kappa else
                                       _soft_in_frame(ev, self.loss, kappa + math.log(float(r)), self.degree))
            ok = theta_norm > 0 and ev.gdual > 0      # pair the unit vectors: no under/overflow at any scale
            beta = -float(sum(((p / theta_norm) * (g / ev.gdual)).sum() for p, g in zip(params, ev.G))) if ok \
                else float("nan")
            acc = float((ev.q > 0).double().mean())
        true_norm = theta_norm if not kappa else (math.exp(log_r) if log_r < 709.78 else math.inf)
        self.rows.append((k, clock.s, clock.log_t, ev.log_L, true_norm, beta, acc, log_r, ev.log_depth, clock.log_s))
        if self.snapshot_every is not None and _selected(self.snapshot_every, k):
            self.snapshots.append((len(self.rows) - 1, [p.detach().clone() for p in params]))

    def finish(self, *, params, status, message, threshold, info, exponent: int = 0) -> Trajectory:
        """The Trajectory; ``params`` = P with theta = 2^exponent P (its ``params`` are theta when representable)."""
        a = np.array(self.rows, dtype=np.float64).reshape(-1, 10)
        own = self.norm.name
        below = np.nonzero(a[:, 3] < threshold)[0]
        frame = [p.detach().clone() for p in params]
        return Trajectory(
            norm=own, loss=self.loss, degree=self.degree, steps=a[:, 0].astype(np.int64), s=a[:, 1],
            log_t=a[:, 2], log_loss=a[:, 3], theta_norm=a[:, 4],
            margin=np.array(self.hard[own]), soft_margin=np.array(self.soft[own]),
            margins={k: np.array(v) for k, v in self.hard.items()},
            soft_margins={k: np.array(v) for k, v in self.soft.items()},
            alignment=a[:, 5], train_accuracy=a[:, 6], snapshots=self.snapshots,
            params=unscaled(frame, exponent), status=status, message=message,
            t0_index=int(below[0]) if below.size else None, info=info, log_theta_norm=a[:, 7], log_depth=a[:, 8],
            log_s=a[:, 9], frame_params=frame, frame_exponent=exponent)
