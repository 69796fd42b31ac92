"""Step rules (diffrax's controllers): the size of the next step, its acceptance, and the rule's memory.

``integrate`` calls ``rule.reset()`` once and then ``rule.advance(ctx)`` every step (``StepContext``: solver,
field, params, FieldEval, ||theta||, degree); the rule returns a ``StepOutcome`` (new params, their
FieldEval, the time increment h, or the reason the run cannot go on). The explicit rules below take one
solver step of the size ``rule(ev, theta_norm)`` and, with ``backtrack``, halve a step that raises log L.
The late-phase rule ``RidgeStep`` lives in ``flow.late_phase``.

* ``ConstantStep(h)``: h every step.  In flow time the late phase stalls (the speed L ||G||_* underflows);
  in loss time a constant h gives ||Delta theta|| = h ||G||_*, which shrinks like log(1/L)/||theta||.
* ``RelativeStep(h, max_step=inf)``: h_k = min(max_step, h ||theta_k|| / ||v(theta_k)||), so that the Euler
  increment has ||Delta theta|| = h ||theta|| in the algorithm's norm.  The normalized parameters move by
  O(h) per step and log(1/L) grows geometrically (about a factor 1 + L h per step late on), so
  log10 L = -1e5 is reached in a few hundred steps.  At theta = 0 or v = 0 the rule returns max_step / 0.
  Safeguard (``backtrack=True``): ``integrate`` halves a step that would increase log L (or leave the
  finite range) and retries; the reduction factor is carried to the next step and doubled back towards 1
  after each accepted step.  (For l1 the relative rule moves ONE coordinate by h ||theta||_1, which overshoots
  badly in high dimension early on: the safeguard is what keeps coordinate descent stable there.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .field import all_finite


@dataclass
class StepContext:
    solver: object
    field: object
    params: list
    ev: object
    theta_norm: float
    degree: int
    log_scale: float = 0.0    # theta = e^log_scale params (``flow.scaled``); 0 until ||theta|| passes 2^64


@dataclass
class StepOutcome:
    params: list | None       # the accepted parameters (None: the state became non-finite)
    ev: object | None         # their FieldEval
    h: float                  # the increment of the time variable
    why: str = ""             # non-empty: the run cannot go on (status from ``kind``)
    kind: str = ""            # "stalled" | "diverged" when ``why`` is set
    log_h: float | None = None   # log of h when h itself may overflow (the late phase's frame, ``flow.scaled``)


class StepRule:
    backtrack = False  # halve a rejected step (log L increased) when True
    needs_theta_norm = True   # the loop passes ||theta|| in StepContext (nan when False and no record is due)
    frame_ok = True           # steps depend on theta only through the field: the loop may rescale (flow.scaled)

    def __init__(self):
        self.fac = 1.0

    def reset(self) -> None:
        """Forget the memory of a previous run (the safeguard's reduction factor)."""
        self.fac = 1.0

    def __call__(self, ev, theta_norm: float) -> float:
        raise NotImplementedError

    def advance(self, ctx: StepContext) -> StepOutcome:
        """One explicit solver step of size rule(ev, ||theta||) times the safeguard's factor."""
        h = self(ctx.ev, ctx.theta_norm) * self.fac
        if not h > 0 and ctx.ev.gdual > 0:
            return StepOutcome(None, None, 0.0, f"the step rule {self!r} returned h = {h:.3g} at ||G||_* = "
                               f"{ctx.ev.gdual:.3g}", "stalled")
        if not h > 0:
            return StepOutcome(None, None, 0.0, f"zero velocity (||G||_* = {ctx.ev.gdual:.3g}, ||theta|| = "
                               f"{ctx.theta_norm:.3g}): a stationary point of the loss, e.g. a zero or dead-ReLU "
                               "start", "stalled")
        out = try_step(ctx.solver, ctx.field, ctx.params, ctx.ev, h, self.backtrack)
        if out.why:
            return out
        self.fac = min(1.0, 2.0 * self.fac * (out.h / h)) if self.backtrack else 1.0
        if self.fac < 1e-10:
            out.why, out.kind = (f"the safeguard has shrunk the step by {self.fac:.1e}: log L no longer decreases "
                                 "along the steepest direction (a non-smooth local minimum or Clarke-stationary "
                                 "point)"), "stalled"
        return out


def try_step(slv, field, params, ev, h, backtrack, max_halvings=40) -> StepOutcome:
    """One solver step of size h; with ``backtrack`` halve h until log L does not increase and the state is
    finite (at most ``max_halvings`` times)."""
    for _ in range(max_halvings + 1):
        with torch.no_grad():
            new = slv.step(field, params, ev, h)
            finite = all_finite(new)
            ev_new = field(new, ev.log_scale) if finite else None
        if finite and ev_new.finite and (not backtrack or ev_new.deeper_or_level(ev)):
            return StepOutcome(new, ev_new, h)
        if not backtrack:
            return StepOutcome(None, None, h, f"non-finite parameters or loss (step size {h:.3g}); reduce the "
                               "step", "diverged")
        h *= 0.5
    return StepOutcome(params, None, h, f"log L did not decrease after {max_halvings} step halvings "
                       f"(h = {h:.3g})", "stalled")


class ConstantStep(StepRule):
    def __init__(self, h: float):
        super().__init__()
        if not (h > 0 and math.isfinite(h)):
            raise ValueError(f"step size must be a positive finite number, got {h!r}")
        self.h = float(h)

    def __call__(self, ev, theta_norm):
        return self.h

    def __repr__(self):
        return f"ConstantStep({self.h:g})"


class RelativeStep(StepRule):
    def __init__(self, h: float = 0.05, max_step: float = math.inf, backtrack: bool = True):
        super().__init__()
        if not (h > 0 and math.isfinite(h)):
            raise ValueError(f"relative step h must be a positive finite number, got {h!r}")
        if not max_step > 0:
            raise ValueError(f"max_step must be positive, got {max_step!r}")
        self.h, self.max_step, self.backtrack = float(h), float(max_step), bool(backtrack)

    def __call__(self, ev, theta_norm):
        speed = ev.speed
        if not speed > 0:
            return 0.0
        if not theta_norm > 0:  # theta = 0 has no scale: a step of length h
            return min(self.max_step, self.h / speed)
        return min(self.max_step, self.h * theta_norm / speed)

    def __repr__(self):
        return f"RelativeStep({self.h:g}, max_step={self.max_step:g})"


def make_step(spec) -> StepRule:
    """A StepRule, a float (constant step) or a string 'constant:H' / 'relative:H'."""
    if isinstance(spec, StepRule):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return ConstantStep(float(spec))
    if isinstance(spec, str) and ":" in spec:
        kind, val = spec.split(":", 1)
        try:
            h = float(val)
        except ValueError:
            h = None
        if kind == "constant" and h is not None:
            return ConstantStep(h)
        if kind == "relative" and h is not None:
            return RelativeStep(h)
        if kind == "ridge" and h is not None:
            from .late_phase import RidgeStep
            return RidgeStep(h)
    raise ValueError(f"step must be a StepRule, a float (constant step) or 'constant:H'/'relative:H'/'ridge:H'; "
                     f"got {spec!r}")
