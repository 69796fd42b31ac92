"""Step controllers for S runs at once (diffrax's controller pattern): each run's step size and the memory behind it.

The loop (``flow.batched.run_batched``) calls ``controller.observe(t, ev)`` at every state theta_t (t = 0, 1, ...)
and, before the step to theta_(t+1), ``controller.size(ctx)`` for the step sizes eta (S,) that multiply the
direction rows. ``controller.norms.idx`` is each run's norm (an index into ``ROW_NORMS``), which the direction
transforms read. Which norm a run uses:

* ``FixedNorms(idx)``: one norm per run for the whole run;
* ``SwitchAtFit(before, after, fit)``: ``before`` until the run's fit step (the first t with 100% train
  accuracy, q_i > 0 for all i, tracked by ``FitTracker``), ``after`` from t = fit step on.

Controllers:

* ``ScheduleStep(schedules, norms)``: eta_s = schedules[s](t) for the step to theta_t (the step-size schedules of
  ``proofs_numeric.optim.schedules``, e.g. eta0 t^-0.8);
* ``BoldDriverStep(c, norms, max_rel_step, stop_log_loss)``: for the direction d_s = dualize(g_s),
      eta_s = kappa_s min(c_s / ||g_s||_*,  h max_i |theta_si| / ||d_s||_inf),
  c_s the rate of run s's norm (log L drops by about c per step, first order), h = max_rel_step (no coordinate
  moves by more than h times the largest |theta_i|). kappa_s in [KAPPA_MIN, 1] (bold driver) is multiplied by
  SHRINK when log L did not decrease over the last two steps (log L_t >= log L_(t-2) - STALL_TOL max(1, |log L_t|),
  robust to rounding), else by GROW (capped at 1). A run is frozen (eta = 0) from its first t with
  log L_t < stop_log_loss on (``stop`` holds that t, -1 before).
"""
from __future__ import annotations

import math

import torch

from .batched_directions import L2

SHRINK, GROW, KAPPA_MIN = 0.5, 1.25, 1e-2   # bold driver: step multiplier kappa in [KAPPA_MIN, 1]
STALL_TOL = 1e-9


class FitTracker:
    """Each run's fit step (first t with 100% train accuracy; -1 before), with this step's accuracy and the runs
    that fitted at this very step (``acc``, ``newly``)."""

    def __init__(self):
        self.fit = self.acc = self.newly = None

    def observe(self, t: int, ev) -> None:
        if self.fit is None:
            self.fit = torch.full_like(ev.log_L, -1, dtype=torch.long)
        self.acc = (ev.q > 0).double().mean(1)
        self.newly = (self.fit < 0) & (self.acc == 1.0)
        self.fit = torch.where(self.newly, torch.full_like(self.fit, t), self.fit)


class FixedNorms:
    def __init__(self, idx):
        self.idx = idx

    def observe(self, t, ev) -> None:
        pass


class SwitchAtFit:
    def __init__(self, before, after, fit: FitTracker):
        self.before, self.after, self.fit = before, after, fit
        self.idx = before

    def observe(self, t, ev) -> None:
        self.fit.observe(t, ev)
        self.idx = torch.where(self.fit.fit >= 0, self.after, self.before)


class ScheduleStep:
    """eta_s = schedules[s](t); the values are tabulated CHUNK steps at a time (one tensor per chunk)."""
    CHUNK = 512

    def __init__(self, schedules, norms):
        self.schedules, self.norms = list(schedules), norms
        self.first, self.table = None, None

    def observe(self, t, ev) -> None:
        self.norms.observe(t, ev)

    def size(self, ctx):
        t = ctx.t
        if self.table is None or not self.first <= t < self.first + self.CHUNK or self.table.device != ctx.theta.device:
            self.first = t
            self.table = torch.tensor([[float(s(u)) for s in self.schedules] for u in range(t, t + self.CHUNK)],
                                      dtype=torch.float64, device=ctx.theta.device)
        return self.table[t - self.first]


class BoldDriverStep:
    """See the module docstring; ``c``: (3,) tensor of the rates of ROW_NORMS (nan where unused)."""
    needs_theta_norms = True      # max_i |theta_si| = ctx.theta_norms[:, 2]

    def __init__(self, c, norms, max_rel_step: float = 0.05, stop_log_loss: float = -math.inf):
        self.c, self.norms, self.h, self.stop_log_loss = c, norms, float(max_rel_step), float(stop_log_loss)
        self.kappa = self.prev = self.prev2 = self.stop = None

    def observe(self, t, ev) -> None:
        lL = ev.log_L
        if self.kappa is None:
            self.kappa, self.prev = torch.ones_like(lL), torch.full_like(lL, math.inf)
            self.prev2, self.stop = self.prev, torch.full_like(lL, -1, dtype=torch.long)
        stuck = lL >= self.prev2 - STALL_TOL * torch.clamp(lL.abs(), min=1.0)   # no decrease over two steps
        self.kappa = torch.where(stuck, torch.clamp(self.kappa * SHRINK, min=KAPPA_MIN),
                                 torch.clamp(self.kappa * GROW, max=1.0))
        self.prev, self.prev2 = lL, self.prev
        self.norms.observe(t, ev)
        self.stop = torch.where((self.stop < 0) & (lL < self.stop_log_loss), torch.full_like(self.stop, t), self.stop)

    def size(self, ctx):
        """eta (S,), from ``ctx.duals`` / ``ctx.gdual`` left by RowDualize: ||d||_inf = ||g||_inf / ||g||_2 for l2
        runs, 1 for l1 and linf; eta = 0 where kappa = 0 (frozen) or g = 0."""
        idx, kappa = ctx.norm_idx, self.kappa * (self.stop < 0)
        dual = ctx.gdual
        u_inf = torch.where(idx == L2, ctx.duals[:, 0] / ctx.duals[:, 1], torch.ones_like(dual))
        eta = kappa * torch.minimum(self.c[idx] / dual, self.h * ctx.theta_norms[:, 2] / u_inf)
        return torch.where((kappa > 0) & (dual > 0), eta, torch.zeros_like(eta))


__all__ = ["FitTracker", "FixedNorms", "SwitchAtFit", "ScheduleStep", "BoldDriverStep", "SHRINK", "GROW",
           "KAPPA_MIN", "STALL_TOL"]
