"""``integrate``: the small loop that runs a steepest flow and returns a ``Trajectory``.

Loop: evaluate the field at theta_k (log L, G, dualize(G)); record; stop if the target loss, the step or
time budget is reached; take one solver step of size h_k from the step rule; advance the clocks
(loss time: s += h, t += h (1/L_k + 1/L_{k+1})/2 accumulated in log space with logaddexp; flow time:
t += h, s += h (L_k + L_{k+1})/2; trapezoid rule, second order); reject non-finite states.

Statuses: "success" (target_log_loss reached; without a target a full run ends as "max_steps"),
"max_steps", "max_seconds", "not_separated" (L never went below l(0): non-separable data or a run that
never fits), "diverged" (non-finite parameters or loss), "stalled" (zero velocity after separation).
``throw=True`` raises FlowError for not_separated / diverged / stalled instead of returning them.
"""
from __future__ import annotations

import math
import time as _time

import numpy as np
import torch

from kktcheck.margins import _prepare
from kktcheck.norms import norm as make_norm

from ..losses import check_loss, separation_threshold
from .field import SteepestField
from .recorder import Recorder
from .solvers import make_solver
from .steps import RelativeStep, make_step
from .trajectory import Trajectory


class FlowError(RuntimeError):
    """Raised by integrate(..., throw=True) when the run ends as not_separated, diverged or stalled."""


def integrate(model, theta0, data, *, norm="l2", loss="exp", solver="euler", time="loss",
              step=None, target_log_loss=None, max_steps=10_000, max_seconds=None, save_every=1,
              snapshot_every=None, margin_norms=("l1", "l2", "linf"), progress=False,
              throw=False) -> Trajectory:
    """Integrate the steepest flow dtheta/dt = -||g||_* dualize(g) (SPEC Eq. 3) from theta0.

    model: a proofs_numeric model, any object with apply_params/degree, or a bias-free nn.Module.
    theta0: initial parameters (list of tensors), or None to start from the model's own parameters.
    data: (X, y), y in {-1, +1} (binary) or integer classes.   norm: name or kktcheck Norm.
    time: "loss" (s, ds = L dt; default) or "flow" (t).   step: StepRule, float (constant) or
    "relative:H"/"constant:H"; default RelativeStep(0.05).   target_log_loss: stop once log L (natural
    log) is at or below it.   Raises ValueError for NaN/inf inputs, unknown norms/solvers/losses.
    """
    nrm = make_norm(norm)
    check_loss(loss)
    slv = make_solver(solver)
    slv.check_norm(nrm)
    rule = make_step(RelativeStep(0.05) if step is None else step)
    if int(max_steps) < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    if theta0 is None:
        fm, params, degree, X, y = _prepare(model, data, None)
    else:
        fm, params, degree, X, y = _prepare(theta0, data, model)
    params = [p.detach().clone() for p in params]
    field = SteepestField(fm, X, y, nrm, loss, time)
    rec = Recorder(nrm, degree, loss, margin_norms, save_every, snapshot_every)
    thr = separation_threshold(loss)
    s, log_t, k, status, message, fac = 0.0, -math.inf, 0, None, "", 1.0
    start = _time.perf_counter()
    bar = _bar(progress, max_steps)
    with torch.no_grad():
        ev = field(params)
    if not math.isfinite(ev.log_L):
        raise ValueError(f"log L(theta0) = {ev.log_L}: the loss is not finite at the initial parameters")
    while True:
        theta_norm = float(nrm._value(params))
        if rec.due(k):
            rec.record(k, params, ev, s, log_t, theta_norm)
        if target_log_loss is not None and ev.log_L <= target_log_loss:
            status = "success"
            message = f"reached log L = {ev.log_L:.6g} <= target {target_log_loss:.6g} after {k} steps"
            break
        if k >= max_steps:
            status, message = "max_steps", f"used max_steps = {max_steps}; log L = {ev.log_L:.6g}"
            break
        if max_seconds is not None and _time.perf_counter() - start > max_seconds:
            status, message = "max_seconds", f"used max_seconds = {max_seconds}; {k} steps, log L = {ev.log_L:.6g}"
            break
        h = rule(ev, theta_norm) * fac
        if not h > 0:
            status = "stalled"
            message = (f"zero velocity at step {k} (||G||_* = {ev.gdual:.3g}, ||theta|| = {theta_norm:.3g}): "
                       "a stationary point of the loss, e.g. a zero or dead-ReLU initialization")
            break
        new, ev_new, why = _try_step(slv, field, params, ev, h, rule.backtrack)
        if why:
            status, message = ("diverged" if new is None else "stalled"), f"step {k}: {why}"
            break
        h = ev_new.h
        fac = min(1.0, 2.0 * fac * ev_new.h_ratio) if rule.backtrack else 1.0
        if fac < 1e-10:
            status = "stalled"
            message = (f"step {k}: the safeguard has shrunk the step by {fac:.1e}: log L no longer decreases along "
                       "the steepest direction (a non-smooth local minimum or Clarke-stationary point)")
            params, ev, k = new, ev_new, k + 1
            break
        lL_left, params, ev, k = ev.log_L, new, ev_new, k + 1
        if time == "loss":  # trapezoid rule for t = int ds / L, in log space
            s += h
            log_dt = math.log(h) + float(np.logaddexp(-lL_left, -ev.log_L)) - math.log(2.0)
            log_t = float(np.logaddexp(log_t, log_dt))
        else:               # trapezoid rule for s = int L dt
            s += 0.5 * h * (math.exp(lL_left) + math.exp(ev.log_L))
            log_t = float(np.logaddexp(log_t, math.log(h)))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(log10L=f"{ev.log_L / math.log(10):.4g}", refresh=False)
    if bar is not None:
        bar.close()
    rec.record(k, params, ev, s, log_t, float(nrm._value(params)))
    if status in ("max_steps", "max_seconds", "stalled") and ev.log_L >= thr and not np.any(
            np.array([r[3] for r in rec.rows]) < thr):
        status, why = "not_separated", f" ({message})" if message.startswith("step") else ""
        message = (f"the training data were never fitted: log L stayed >= log l(0) = {thr:.4g} (final log L = "
                   f"{ev.log_L:.6g}, train accuracy {rec.rows[-1][6]:.3g}) after {k} steps. The data may not be "
                   "separable by this model, or the run needs more steps/a larger step; the margin theory "
                   "(assumption A3) does not apply" + why)
    info = {"solver": slv.name, "order": slv.order, "step_rule": repr(rule), "time": time, "steps": k,
            "wall_time": _time.perf_counter() - start, "field_evals": field.n_evals}
    traj = rec.finish(params=params, status=status, message=message, threshold=thr, info=info)
    if throw and status in ("not_separated", "diverged", "stalled"):
        raise FlowError(f"integrate ended with status {status!r}: {message}")
    return traj


def _try_step(slv, field, params, ev, h, backtrack, max_halvings=40):
    """One solver step of size h; with ``backtrack`` halve h until log L does not increase (and the state is
    finite).  Returns (new params, its FieldEval with .h/.h_ratio set, None) or (None/params, None, reason)."""
    h0 = h
    for _ in range(max_halvings + 1):
        with torch.no_grad():
            new = slv.step(field, params, ev, h)
            finite = all(bool(torch.isfinite(p).all()) for p in new)
            ev_new = field(new) if finite else None
        ok = finite and math.isfinite(ev_new.log_L)
        if ok and (not backtrack or ev_new.log_L <= ev.log_L):
            ev_new.h, ev_new.h_ratio = h, h / h0
            return new, ev_new, None
        if not backtrack:
            return None, None, f"non-finite parameters or loss (step size {h:.3g}); reduce the step"
        h *= 0.5
    return params, None, f"log L did not decrease after {max_halvings} step halvings (h = {h:.3g})"


def _bar(progress, total):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="flow", leave=False)
