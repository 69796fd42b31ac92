"""``integrate``: the small loop that runs a steepest flow and returns a ``Trajectory``.

Loop: evaluate the field at theta_k (log L, G, dualize(G)); record; stop if the target loss, the step or
time budget is reached; take one solver step of size h_k from the step rule; advance the clocks
(loss time: s += h, t += h (1/L_k + 1/L_{k+1})/2 accumulated in log space with logaddexp; flow time:
t += h, s += h (L_k + L_{k+1})/2; trapezoid rule, second order); reject non-finite states.

Statuses: "success" (target_log_loss reached; without a target a full run ends as "max_steps"),
"max_steps", "max_seconds" (a budget ran out: never blamed on the data; the message says whether the data
were fitted), "not_separated" (the run stalled before L went below l(0): non-separable data or a run that
cannot fit), "diverged" (non-finite parameters or loss), "stalled" (zero velocity, e.g. a zero or dead-ReLU
start, or no decrease of log L along the steepest direction). The step itself, its acceptance and its
memory belong to the step rule (``StepRule.advance``; diffrax's controller pattern).
``throw=True`` raises FlowError for not_separated / diverged / stalled instead of returning them.
Inside ``proofs_numeric.budget.limit`` (verify/experiment ``--max-seconds``) every step checks the deadline and
raises ``budget.BudgetExhausted`` once it has passed; the caller that set the budget reports "no evidence".
"""
from __future__ import annotations

import contextlib
import math
import time as _time

import numpy as np
import torch

from kktcheck import prepare, single_threaded
from kktcheck.norms import norm as make_norm

from .. import budget
from ..device import resolve_device
from ..losses import check_loss, separation_threshold
from .field import SteepestField
from .recorder import Recorder, step_selection
from . import scaled
from .solvers import make_solver
from .late_phase import RidgeStep, ridge_stats
from .steps import RelativeStep, StepContext, make_step
from .trajectory import Trajectory


class FlowError(RuntimeError):
    """Raised by integrate(..., throw=True) when the run ends as not_separated, diverged or stalled."""


def integrate(model, theta0, data, *, norm="l2", loss="exp", solver="euler", time="loss",
              step=None, target_log_loss=None, max_steps=None, max_seconds=None, save_every=1,
              snapshot_every=None, margin_norms=("l1", "l2", "linf"), progress=False,
              throw=False, device=None, threads=1, target_log_depth=None) -> Trajectory:
    """Integrate the steepest flow dtheta/dt = -||g||_* dualize(g) from theta0 (g = grad L), or run a discrete
    optimizer (step=OptimizerStep(...)).   model: a proofs_numeric model, any object with apply_params/degree, or a bias-free nn.Module.
    theta0: initial parameters (list of tensors), or None to start from the model's own parameters.
    data: (X, y), y in {-1, +1} (binary) or integer classes.   norm: name or kktcheck Norm.
    time: "loss" (s, ds = L dt; default) or "flow" (t).   step: a StepRule, a float (constant step) or
    "relative:H"/"constant:H"/"ridge:H"; default ``default_step(norm, loss)``: RidgeStep(0.05) (the late-phase
    rule) for the exp loss in l1/l2/linf, RelativeStep(0.05) otherwise.   target_log_loss: stop once log L
    (natural log) is at or below it.   max_steps: default None = no step limit when a target or max_seconds
    is given, else 10,000.   save_every / snapshot_every: record (snapshot) every that many steps, or at the
    listed step indices (plus the last state).   progress: True for a tqdm bar, or an object with
    ``update(n)`` (a caller's shared bar) advanced once per step.   device: None/"cpu" (tested), "cuda",
    "cuda:N": where the field runs (float64; the ridge LPs and the returned Trajectory are on the CPU).
    target_log_depth: stop once log log(1/L) is at or above it (depths beyond float64: 1000 is
    log10 L = -10^433.9; the late phase keeps theta = 2^e P in a log-scale frame, ``flow.scaled``).
    threads: 1 (default) runs with one torch and one BLAS thread (``kktcheck.single_threaded``: the field's
    and the ridge step's matrices are small, and a waiting second thread made them up to 13x slower on a
    loaded 2-core machine); None leaves the thread pools as they are.
    Raises ValueError for NaN/inf inputs, unknown norms/solvers/losses/devices and bad budgets.
    """
    if threads not in (1, None):
        raise ValueError(f"threads must be 1 (one torch and one BLAS thread) or None (leave them), got {threads!r}")
    dev = resolve_device(device)
    nrm = make_norm(norm)
    check_loss(loss)
    slv = make_solver(solver)
    slv.check_norm(nrm)
    rule = make_step(default_step(nrm, loss) if step is None else step)
    target = _Target(target_log_loss, target_log_depth)
    max_steps = _check_budget(max_steps, max_seconds, target, snapshot_every)
    fm, params, degree, X, y = prepare(model if theta0 is None else theta0, data, None if theta0 is None else model)
    params = [p.detach().clone().to(dev) for p in params]
    field = SteepestField(fm, X, y, nrm, loss, time, device=dev, degree=degree)
    rec = Recorder(nrm, degree, loss, margin_norms, save_every, snapshot_every)
    with (single_threaded() if threads == 1 else contextlib.nullcontext()):
        traj = _run(rule, slv, field, params, rec, degree, (target, max_steps, max_seconds), progress)
    if throw and traj.status in ("not_separated", "diverged", "stalled"):
        raise FlowError(f"integrate ended with status {traj.status!r}: {traj.message}")
    return traj


def _run(rule, slv, field, params, rec, degree, budget_args, progress) -> Trajectory:
    """The integration loop: record, check the stopping rules, advance by the step rule; the Trajectory."""
    target, max_steps, max_seconds = budget_args
    nrm, loss, time = field.norm, field.loss, field.time
    thr, clock = separation_threshold(loss), _Clock(time)
    k, status, message, start = 0, None, "", _time.perf_counter()
    bar = _Progress(progress, max_steps)
    ev = _first_eval(field, params)
    rule.reset()
    exponent = 0                                                 # theta = 2^exponent params (flow.scaled)
    rescale = rule.frame_ok and rule.needs_theta_norm and field.scalable
    while True:
        theta_norm = _size(nrm, params) if (rule.needs_theta_norm or rec.due(k)) else math.nan
        if rescale and theta_norm > scaled.RENORMALIZE_ABOVE:       # the size just measured decides: no extra norm
            params, ev, exponent = _rescaled(field, params, exponent, theta_norm)
            theta_norm = _size(nrm, params)
        if theta_norm == math.inf:      # plain float64 state past ||theta|| = 1.8e308 (a rule without the frame)
            status, message = "stalled", (f"step {k}: ||theta|| left float64's range (log ||theta|| = "
                                          f"{nrm.log_value(params):.6g}); the late-phase RidgeStep keeps a log-scale "
                                          "frame (frame=True) and goes on")
            break
        if rec.due(k):
            rec.record(k, params, ev, clock, theta_norm)
        status, message = _stop_reason(ev, k, target, max_steps, max_seconds, start)
        if status:
            break
        budget.check(f"step {k} of integrate ({nrm.name} flow)")   # an enclosing budget.limit (verify --max-seconds)
        out = rule.advance(StepContext(slv, field, params, ev, theta_norm, degree, ev.log_scale))
        if out.why:
            status, message = out.kind, f"step {k}: {out.why}"
            if out.kind == "stalled" and out.ev is not None:
                params, ev, k = out.params, out.ev, k + 1
            break
        clock.advance(out.h, ev.log_L, out.ev.log_L, out.log_h)
        params, ev, k = out.params, out.ev, k + 1
        bar.update(ev)
    bar.close()
    rec.record(k, params, ev, clock, _size(nrm, params))
    status, message = _blame(status, message, rec, ev, thr, k)
    info = {"solver": slv.name, "order": slv.order, "step_rule": repr(rule), "time": time, "steps": k, "device": str(field.device),
            "wall_time": _time.perf_counter() - start, "field_evals": field.n_evals, **ridge_stats(rule)}
    return _on_host(rec.finish(params=params, exponent=exponent, status=status, message=message, threshold=thr,
                               info=info))


def _size(nrm, params) -> float:
    """||params|| in the algorithm's norm; inf when it is beyond float64 (then only its logarithm exists)."""
    try:
        return float(nrm(params))
    except ValueError:
        return math.inf


def _rescaled(field, params, exponent, size):
    """Move ||params|| = size (> 2^64) into the exponent (``flow.scaled.renormalize``: theta = 2^exponent params
    unchanged, exactly) and evaluate the field in the new frame."""
    params, k = scaled.renormalize(params, size)
    exponent += k
    with torch.no_grad():
        return params, field(params, exponent * math.log(2.0)), exponent


def default_step(nrm, loss):
    """RidgeStep(0.05) for the exp loss in l1/l2/linf (the late-phase rule), RelativeStep(0.05) otherwise."""
    return RidgeStep(0.05) if loss == "exp" and nrm.name in ("l1", "l2", "linf") else RelativeStep(0.05)


def _on_host(traj: Trajectory) -> Trajectory:
    """The Trajectory with its final parameters (theta_T, None beyond float64, and the frame's P) and snapshots on
    the CPU (unchanged when they are there)."""
    traj.params = None if traj.params is None else [p.cpu() for p in traj.params]
    traj.frame_params = [p.cpu() for p in traj.frame_params]
    traj.snapshots = [(i, [p.cpu() for p in ps]) for i, ps in traj.snapshots]
    return traj


class _Target:
    """The stopping depth: log L <= target_log_loss, or log log(1/L) >= target_log_depth (either, when given)."""

    def __init__(self, log_loss, log_depth):
        for name, v, meaning in (("target_log_loss", log_loss, "natural log of the loss"),
                                 ("target_log_depth", log_depth, "natural log of log(1/L)")):
            if v is not None and not (isinstance(v, (int, float)) and not math.isnan(v)):
                raise ValueError(f"{name} must be a number ({meaning}), got {v!r}")
        self.log_loss, self.log_depth = log_loss, log_depth

    def __bool__(self):
        return self.log_loss is not None or self.log_depth is not None

    def reached(self, ev) -> str:
        """'' or the text of the target reached."""
        if self.log_loss is not None and ev.log_L <= self.log_loss:
            return f"<= target {self.log_loss:.6g}"
        if self.log_depth is not None and ev.log_depth >= self.log_depth:
            return f"(log log(1/L) = {ev.log_depth:.6g} >= target_log_depth {self.log_depth:.6g})"
        return ""


def _check_budget(max_steps, max_seconds, target, snapshot_every):
    if max_seconds is not None and not (isinstance(max_seconds, (int, float)) and max_seconds >= 0):
        raise ValueError(f"max_seconds must be a non-negative number of seconds (or None), got {max_seconds!r}")
    if snapshot_every is not None:
        step_selection("snapshot_every", snapshot_every)
    if max_steps is None:
        return math.inf if (target or max_seconds is not None) else 10_000
    if not int(max_steps) >= 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    return int(max_steps)


def _log_loss_text(ev) -> str:
    """log L for messages: the number, or -exp(log log(1/L)) where it is beyond float64."""
    return f"{ev.log_L:.6g}" if math.isfinite(ev.log_L) or not math.isfinite(ev.log_depth) else \
        f"-exp({ev.log_depth:.6g}) (log10 L = -10^{ev.log_depth / math.log(10) - math.log10(math.log(10)):.4g})"


def _stop_reason(ev, k, target, max_steps, max_seconds, start):
    if target.reached(ev):
        return "success", f"reached log L = {_log_loss_text(ev)} {target.reached(ev)} after {k} steps"
    if k >= max_steps:
        return "max_steps", f"used max_steps = {max_steps}; log L = {_log_loss_text(ev)} (the step budget, not the data)"
    if max_seconds is not None and _time.perf_counter() - start > max_seconds:
        return "max_seconds", (f"used max_seconds = {max_seconds}; {k} steps, log L = {_log_loss_text(ev)} (the time "
                               "budget, not the data)")
    return None, ""


def _blame(status, message, rec, ev, thr, k):
    """A run that never fitted: a stationary start is 'stalled'; only a run that moved but never got L below
    l(0) before its budget ran out is called not_separated."""
    never = ev.log_L >= thr and not np.any(np.array([r[3] for r in rec.rows]) < thr)
    if status == "stalled" and never and "zero velocity" in message:
        return status, message + " (the initial parameters are a stationary point: nothing was trained)"
    if status in ("stalled",) and never:
        return "not_separated", (f"the training data were never fitted: log L stayed >= log l(0) = {thr:.4g} "
                                 f"(final log L = {ev.log_L:.6g}, train accuracy {rec.rows[-1][6]:.3g}) after {k} "
                                 "steps; the data may not be separable by this model, and the margin theory "
                                 f"(assumption A3) does not apply ({message})")
    if status in ("max_steps", "max_seconds") and never:
        return status, message + f"; the data were not fitted within this budget (log L >= log l(0) = {thr:.4g})"
    return status, message


class _Clock:
    """Loss time s and log of flow time t, trapezoid rule (second order): loss time: t += h (1/L_k + 1/L_k+1)/2
    in log space; flow time: s += h (L_k + L_k+1)/2. log s is kept too: once s passes float64 (the linear
    model's loss time beyond ||theta|| = 1e308) it is accumulated in log space and s reads inf. log t reads +inf
    once log(1/L) itself is beyond float64 (t ~ e^(1e308))."""

    def __init__(self, time):
        self.time, self.s, self.log_t, self.log_s = time, 0.0, -math.inf, -math.inf

    def advance(self, h, lL_left, lL_right, log_h=None):
        if log_h is None:
            log_h = math.log(h) if h > 0 else -math.inf
        if self.time == "loss":
            self._add_s(h, log_h)
            log_dt = log_h + float(np.logaddexp(-lL_left, -lL_right)) - math.log(2.0) if h > 0 else -math.inf
            self.log_t = float(np.logaddexp(self.log_t, log_dt))
        else:
            self._add_s(0.5 * h * (math.exp(lL_left) + math.exp(lL_right)), None)
            self.log_t = float(np.logaddexp(self.log_t, math.log(h))) if h > 0 else self.log_t

    def _add_s(self, ds, log_ds):
        if log_ds is None:
            log_ds = math.log(ds) if ds > 0 else -math.inf
        if math.isfinite(self.s + ds):
            self.s += ds
            self.log_s = math.log(self.s) if self.s > 0 else -math.inf
        else:
            self.log_s, self.s = float(np.logaddexp(self.log_s, log_ds)), math.inf


def _first_eval(field, params):
    with torch.no_grad():
        ev = field(params)
    if not math.isfinite(ev.log_L):
        raise ValueError(f"log L(theta0) = {ev.log_L}: the loss is not finite at the initial parameters theta0 "
                         "(the outputs overflow float64: start from a smaller theta0)")
    return ev


class _Progress:
    """A tqdm bar showing log10 L (a no-op when progress=False)."""

    def __init__(self, progress, total):
        self.bar, self.external = None, None
        if hasattr(progress, "update"):     # a caller's bar: advanced, never closed or relabelled here
            self.external = progress
        elif progress:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total if math.isfinite(total) else None, desc="flow", leave=False)

    def update(self, ev):
        if self.external is not None:
            self.external.update(1)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(log10L=f"{ev.log_L / math.log(10):.4g}", refresh=False)

    def close(self):
        if self.bar is not None:
            self.bar.close()
