"""Batched full-batch steepest descent for S two-layer bias-free ReLU nets at once (no Python loop over seeds).

Model: f(x; W, a) = sum_j a_j relu(<w_j, x>), W: (k, d) in PyTorch (out, in) layout, a: (k,);
degree L = 2. Stacked over S runs: W (S, k, d), a (S, k), X (S, n, d), y (S, n) in {-1, +1}; each run's
parameter vector is theta_s = vec(W_s, a_s) (W row-major, then a: the order of ``kktcheck.params.flatten``
on TwoLayerReLU's [W, a]).

Loss: exponential, SUMMED, L = sum_i exp(-q_i), q_i = y_i f(x_i), kept in log space:
    log L = logsumexp(-q),    g = grad log L = -sum_i p_i grad q_i,   p = exp(-q - log L) = softmax(-q),
with grad_a q_i = y_i relu(W x_i) and grad_{w_j} q_i = y_i a_j 1[<w_j, x_i> > 0] x_i (relu'(0) := 0, as autograd).
p is formed exactly as torch's logsumexp backward does, so nothing underflows and the reference loop
(tests/oracles/batched_loop_oracle.py: TwoLayerReLU + proofs_numeric.optim, run by run) agrees to rounding.

Step (our choice): normalized steepest descent theta_s <- theta_s - eta_s dualize(g_s) in the run's norm,
    GD: l2,   dualize(g) = g/||g||_2,                 ||g||_* = ||g||_2
    CD: l1,   dualize(g) = sign(g_i*) e_i*, i* the FIRST argmax |g_i| over vec(W, a),  ||g||_* = ||g||_inf
    SD: linf, dualize(g) = sign(g) with sign(0) = 0,  ||g||_* = ||g||_1
with  eta_s = kappa_s * min(c_A / ||g_s||_*,  h max_i |theta_si| / ||dualize(g_s)||_inf):
* c / ||g||_*: log L drops by about c per step (first order): the steepest flow (Eq. 3) sampled at equal steps
  of log L, a time change of the flow, so log(1/L) grows linearly (deep late phase for all three algorithms);
* the cap: no coordinate moves by more than h times the largest |theta_i| (small init; CD's l1 step would
  otherwise move one coordinate by a fraction of the whole l1 norm);
* kappa (bold driver, in [KAPPA_MIN, 1]): halved when log L did not decrease over the last two steps, else
  x GROW; it stops the period-2 cycles of normalized CD around a 1-D minimum.
The plain loss-normalized step -eta ||g||_* dualize(g) on log L was tried first: its relative step tends to a
constant, ||theta|| grows geometrically and each q_i moves by O(log 1/L) per step, so the runs turn chaotic.
Switching: a run with ``switch_to`` uses its first algorithm before the first step t with 100% train accuracy
(``fit_step``) and the second from t on. A run is frozen once log L < ``stop_log_loss`` (overflow guard).

The engine is ``proofs_numeric.flow.batched``: ``BatchedField`` (the closed form above), the direction
``RowChain(KinkSlide(), RowDualize())``, the controller ``BoldDriverStep`` with ``SwitchAtFit`` and the
``MarginRecorder``; this module only assembles them and validates the batch.

Device (``train_batched(..., device=)``, resolved by ``proofs_numeric.device.resolve_device`` before any work):
every tensor of the loop lives there in float64; the BatchedRun (records, final W and a) is CPU float64.
Recorded at log-spaced steps (and the last): log L, train accuracy, hard margins
gamma_bar_p = min_i q_i / ||theta||_p^2 (equal to kc.margin(..., norm=p)) and soft margins
gamma_tilde_p = -log L / ||theta||_p^2 for p in l1, l2, linf; the hard margins also at each run's fit step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..device import resolve_device
from ..flow.batched import MarginRecorder, SoftDropTracker, record_grid, run_batched
from ..flow.batched_directions import (ROW_NORMS, KinkSlide, RowChain, RowDualize, norm_index, row_dualize,
                                      row_norms)
from ..flow.batched_field import BatchedField
from ..flow.batched_steps import GROW, KAPPA_MIN, SHRINK, STALL_TOL, BoldDriverStep, FitTracker, SwitchAtFit
from ..models import TwoLayerReLU

ALGO_NORM = {"GD": "l2", "CD": "l1", "SD": "linf"}
NORMS = ROW_NORMS                 # ("l1", "l2", "linf"): the order of every (S, 3) array
steepest_direction, norms_of = row_dualize, row_norms   # the engine's names, kept for callers of this module


@dataclass
class BatchedRun:
    """Records of S runs: arrays (S, R) over record steps ``steps`` (R,); final W (S, k, d), a (S, k)."""
    algos: list
    switch_to: list
    lr: dict
    steps: np.ndarray
    log_loss: np.ndarray
    accuracy: np.ndarray
    margins: dict            # norm -> (S, R) hard margins
    soft: dict               # norm -> (S, R) soft margins (nan while L >= 1)
    fit_step: np.ndarray     # (S,) first step with 100% train accuracy, -1 if never
    stop_step: np.ndarray    # (S,) step at which log L < stop_log_loss froze the run, -1 if never
    W: torch.Tensor
    a: torch.Tensor
    margins_at_fit: dict = field(default_factory=dict)   # norm -> (S,) hard margin at fit_step (nan if never)
    worst_drop: dict = field(default_factory=dict)       # norm -> (S,) largest one-step relative soft-margin drop
    drop_steps: np.ndarray = None                        # (S,) steps at which that drop was checked (L < 1)

    def own_norm(self, s: int) -> str:
        """The norm of the algorithm run s ends with."""
        return ALGO_NORM[self.switch_to[s] or self.algos[s]]


def _check_batch(algos, switch_to, lr, S, a0, X, y) -> list:
    """Validate the batch (algorithm names, equal batch sizes, a step size per algorithm); returns switch_to."""
    switch_to = list(switch_to) if switch_to is not None else [None] * S
    for name in list(algos) + [s for s in switch_to if s is not None]:
        if name not in ALGO_NORM:
            raise ValueError(f"unknown algorithm {name!r}; valid: {', '.join(ALGO_NORM)}")
    if not (len(algos) == len(switch_to) == S == a0.shape[0] == X.shape[0] == y.shape[0]):
        raise ValueError(f"batch sizes differ: algos {len(algos)}, switch_to {len(switch_to)}, W0 {S}, "
                         f"a0 {a0.shape[0]}, X {X.shape[0]}, y {y.shape[0]}")
    missing = sorted((set(algos) | {s for s in switch_to if s}) - set(lr))
    if missing:
        raise ValueError(f"lr has no step size for {', '.join(missing)}")
    return switch_to


def train_batched(W0, a0, X, y, algos, *, lr, steps: int, switch_to=None, max_rel_step: float = 0.05,
                  n_records: int = 60, stop_log_loss: float = -1e12, kink_slide: bool = True,
                  progress=None, device=None) -> BatchedRun:
    """Run S = len(algos) trainings in lockstep; ``lr``: dict algorithm -> eta (e.g. {"GD": .05, ...});
    ``kink_slide``: CD steps use ``KinkSlide`` (False: plain first-argmax CD, which can stall at a kink);
    ``device``: None/"cpu" (tested), "cuda", "cuda:N" (checked first): where the loop runs, in float64."""
    dev, (S, k, d) = resolve_device(device), W0.shape          # the device is checked before any work
    switch_to = _check_batch(algos, switch_to, lr, S, a0, X, y)
    f64 = dict(dtype=torch.float64, device=dev)
    fld = BatchedField(TwoLayerReLU(d, k), X, y, "exp", device=dev)
    theta = fld.flat([W0, a0])                                  # (S, P), one copy, updated in place
    idx = lambda names: torch.tensor([norm_index(ALGO_NORM[n]) for n in names], device=dev)  # noqa: E731
    fit = FitTracker()
    norms = SwitchAtFit(idx(algos), idx([s2 or s1 for s1, s2 in zip(algos, switch_to)]), fit)
    algo_of = {p: name for name, p in ALGO_NORM.items()}
    rate = torch.tensor([float(lr.get(algo_of[p], math.nan)) for p in NORMS], **f64)    # c of each norm
    ctrl = BoldDriverStep(rate, norms, max_rel_step, stop_log_loss)
    cd = "CD" in set(algos) | set(switch_to)        # KinkSlide returns g unchanged on runs that never use CD
    direction = RowChain(KinkSlide(), RowDualize()) if kink_slide and cd else RowDualize()
    rec = MarginRecorder(record_grid(steps, n_records), 2, fit)
    run_batched(fld, theta, direction=direction, controller=ctrl, save=rec, steps=steps, progress=progress)
    r = rec.result()
    W, a = (b.cpu().clone() for b in fld.blocks(theta))
    return BatchedRun(list(algos), switch_to, dict(lr), r["steps"], r["log_loss"], r["accuracy"], r["margins"],
                      r["soft"], fit.fit.cpu().numpy(), ctrl.stop.cpu().numpy(), W, a.reshape(S, k),
                      r["margins_at_fit"], r["worst_drop"], r["drop_steps"])


__all__ = ["train_batched", "BatchedRun", "KinkSlide", "SoftDropTracker", "steepest_direction", "norms_of",
           "record_grid", "ALGO_NORM", "NORMS", "SHRINK", "GROW", "KAPPA_MIN", "STALL_TOL"]
