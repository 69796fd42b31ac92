"""Step-size rules: the increment h of the time variable (t or s) for the next step.

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


class StepRule:
    backtrack = False  # integrate halves a rejected step (log L increased) when True

    def __call__(self, ev, theta_norm: float) -> float:
        raise NotImplementedError


class ConstantStep(StepRule):
    def __init__(self, h: float):
        if not (h > 0 and math.isfinite(h)):
            raise ValueError(f"step size must be a positive finite number, got {h!r}")
        self.h = float(h)

    def __call__(self, ev, theta_norm):
        return self.h

    def __repr__(self):
        return f"ConstantStep({self.h:g})"


class RelativeStep(StepRule):
    def __init__(self, h: float = 0.05, max_step: float = math.inf, backtrack: bool = True):
        if not (h > 0 and math.isfinite(h)):
            raise ValueError(f"relative step h must be a positive finite number, got {h!r}")
        if not max_step > 0:
            raise ValueError(f"max_step must be positive, got {max_step!r}")
        self.h, self.max_step, self.backtrack = float(h), float(max_step), bool(backtrack)

    def __call__(self, ev, theta_norm):
        speed = ev.speed
        if not speed > 0:
            return 0.0
        if not theta_norm > 0:
            return self.max_step if math.isfinite(self.max_step) else 0.0
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
    raise ValueError(f"step must be a StepRule, a float (constant step) or 'constant:H'/'relative:H'; got {spec!r}")
