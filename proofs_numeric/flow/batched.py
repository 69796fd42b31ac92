"""The batched engine: S runs in lockstep, one closed-form field evaluation and one update per step for all of them.

    for t = 0, 1, ..., steps:   ev_t = field(theta_t)                    (log L, q, G = grad log L; BatchedField)
                                controller.observe(t, ev_t)              (step memory: kappa, fit step, switch, stop)
                                save.save(t, theta_t, ev_t, norms_t)     (records at the steps asked for)
                                d_t = direction.update(G_t, ctx)         (rows; flow.batched_directions)
                                theta_(t+1) = theta_t - eta_t d_t,  eta_t = controller.size(ctx)   (per run, (S,))

The field, the direction transforms, the step controller (flow.batched_steps) and what is saved are separate
objects, as diffrax separates vector field, solver, step-size controller and SaveAt (norms_t = the l1, l2, linf
norms of each row, computed once per step when the controller or the saver sets ``needs_theta_norms``). The
loop is the same for the teacher-student experiment (``experiments.batched.train_batched``), the
step-size-schedule checks (``checks.schedule_checks.batched_runs``) and the linear Adam / momentum rows
(``checks.linear_sanity_checks.run_linear``).

Saving:
* ``SaveParams(steps)``: a copy of theta (S, P) at each listed step (the state after that many updates);
* ``MarginRecorder(steps, degree, fit)``: at the listed steps log L, train accuracy, hard margins
  min_i q_i / ||theta||_p^L and soft margins -log L / ||theta||_p^L (nan while L >= 1; exp loss) for p in
  l1, l2, linf; the hard margins also at each run's fit step (``FitTracker``); and at EVERY step the
  soft-margin drops (``SoftDropTracker``). ``record_grid(steps, n)``: n log-spaced steps plus 0 and the last.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch

from kktcheck import single_threaded

from .batched_directions import ROW_NORMS, RowContext, row_norms


def run_batched(field, theta, *, direction, controller, save, steps: int, progress=None, threads=1):
    """Advance the rows of theta (S, P; updated in place, on the field's device) ``steps`` times; see the module
    docstring. ``progress``: an object with ``update(1)`` called after each step. ``threads``: 1 (default) runs
    the loop inside ``kktcheck.single_threaded()`` (one torch and one BLAS thread: tiny tensors, where a thread
    pool only adds contention), None leaves the pools as they are (as ``flow.integrate``).
    The loop runs in ``torch.inference_mode`` (no autograd bookkeeping: the per-op cost of small tensors)."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0 (the number of updates), got {steps!r}")
    if theta.dim() != 2 or theta.shape[0] != field.S or theta.shape[1] != field.P:
        raise ValueError(f"theta must be (S, P) = ({field.S}, {field.P}) for this field (one row per run), got "
                         f"{tuple(theta.shape)}")
    if threads not in (1, None):
        raise ValueError(f"threads must be 1 (one torch and one BLAS thread) or None (leave them), got {threads!r}")
    with (single_threaded() if threads == 1 else contextlib.nullcontext()), torch.inference_mode():
        _loop(field, theta, direction, controller, save, steps, progress)
    return theta


def _loop(field, theta, direction, controller, save, steps, progress):
    norms_wanted = getattr(controller, "needs_theta_norms", False) or getattr(save, "needs_theta_norms", False)
    for t in range(steps + 1):
        ev = field(theta)
        theta_norms = row_norms(theta) if norms_wanted else None      # (S, 3), once per step for both
        controller.observe(t, ev)
        save.save(t, theta, ev, theta_norms)
        if t == steps:
            break
        ctx = RowContext(t + 1, theta, controller.norms.idx, ev.log_L, theta_norms)
        d = direction.update(ev.G, ctx)
        theta.sub_(controller.size(ctx).unsqueeze(1) * d)
        if progress is not None:
            progress.update(1)


def record_grid(steps: int, n_records: int) -> set:
    """About n_records log-spaced steps in [1, steps], and 0 and steps."""
    grid = np.unique(np.round(np.logspace(0, math.log10(max(steps, 1)), n_records)).astype(int))
    return set(int(s) for s in grid) | {0, steps}


class SaveParams:
    """theta (S, P) after t updates, for t in ``steps``: ``params[t]`` (ordinary tensors, usable with autograd)."""

    def __init__(self, steps):
        self.want, self.params = set(int(t) for t in steps), {}

    def save(self, t, theta, ev, theta_norms=None) -> None:
        if t in self.want:
            with torch.inference_mode(False):
                self.params[t] = theta.clone()


class SoftDropTracker:
    """Monotonicity at EVERY step: for each run and norm p the largest one-step relative drop
    max_t (s_{t-1} - s_t) / s_{t-1} of the soft margin s_t = -log L_t / ||theta_t||_p^L over the steps where
    L_{t-1} < 1 and L_t < 1 (0 if it never drops; nan if no such step), and how many steps were checked."""

    def __init__(self, S: int, device=None):
        self.prev = torch.full((S, 3), math.nan, dtype=torch.float64, device=device)
        self.worst = torch.zeros(S, 3, dtype=torch.float64, device=device)
        self.steps_checked = torch.zeros(S, dtype=torch.long, device=device)

    def update(self, t: int, lL, nrL):
        """lL (S,) log L_t, nrL (S, 3) the norms ||theta_t||_p^L in ROW_NORMS order."""
        soft = torch.where(lL.unsqueeze(1) < 0, -lL.unsqueeze(1) / nrL, torch.full_like(nrL, math.nan))
        both = torch.isfinite(soft) & torch.isfinite(self.prev)
        rel = torch.where(both, (self.prev - soft) / self.prev, torch.zeros_like(soft))
        self.worst = torch.maximum(self.worst, rel)
        self.steps_checked += both[:, 0].long()
        self.prev = soft

    def worst_by_norm(self) -> dict:
        w = torch.where(self.steps_checked.unsqueeze(1) > 0, self.worst, torch.full_like(self.worst, math.nan))
        return {p: w[:, j].cpu().numpy() for j, p in enumerate(ROW_NORMS)}


class MarginRecorder:
    """Records of S runs (see the module docstring); ``fit``: the FitTracker the controller updates (its
    ``acc`` and ``newly`` are read here), ``degree``: L, the homogeneity degree of the model."""
    needs_theta_norms = True      # the loop passes row_norms(theta) (S, 3) to ``save``

    def __init__(self, steps, degree: int, fit):
        self.want, self.degree, self.fit = set(int(t) for t in steps), degree, fit
        self.rows = {key: [] for key in ("t", "ll", "acc", "hard", "soft")}
        self.m_fit = self.drop = None

    def save(self, t, theta, ev, theta_norms) -> None:
        lL, newly = ev.log_L, self.fit.newly
        if self.drop is None:
            self.drop = SoftDropTracker(theta.shape[0], theta.device)
            self.m_fit = torch.full((theta.shape[0], 3), math.nan, dtype=torch.float64, device=theta.device)
        nrL = theta_norms ** self.degree                                             # (S, 3)
        self.drop.update(t, lL, nrL)
        if t in self.want or bool(newly.any()):
            hard = ev.q.amin(1, keepdim=True) / nrL
            if bool(newly.any()):
                self.m_fit = torch.where(newly.unsqueeze(1), hard, self.m_fit)
            if t in self.want:
                soft = torch.where(lL.unsqueeze(1) < 0, -lL.unsqueeze(1) / nrL, torch.full_like(hard, math.nan))
                for key, v in (("t", t), ("ll", lL.clone()), ("acc", self.fit.acc), ("hard", hard), ("soft", soft)):
                    self.rows[key].append(v)

    def result(self) -> dict:
        """CPU numpy arrays: steps (R,), log_loss and accuracy (S, R), margins and soft {norm: (S, R)},
        margins_at_fit {norm: (S,)}, worst_drop {norm: (S,)}, drop_steps (S,)."""
        st = lambda key: torch.stack(self.rows[key], 1).cpu().numpy()  # noqa: E731
        hard, soft = st("hard"), st("soft")                              # (S, R, 3)
        by_norm = lambda v: {p: np.ascontiguousarray(v[:, :, j]) for j, p in enumerate(ROW_NORMS)}  # noqa: E731
        return dict(steps=np.asarray(self.rows["t"]), log_loss=st("ll"), accuracy=st("acc"),
                    margins=by_norm(hard), soft=by_norm(soft),
                    margins_at_fit={p: self.m_fit[:, j].cpu().numpy() for j, p in enumerate(ROW_NORMS)},
                    worst_drop=self.drop.worst_by_norm(), drop_steps=self.drop.steps_checked.cpu().numpy())


__all__ = ["run_batched", "record_grid", "SaveParams", "SoftDropTracker", "MarginRecorder"]
