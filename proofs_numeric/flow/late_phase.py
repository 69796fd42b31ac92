"""``RidgeStep``: the default step rule for the exponential loss in l1, l2 and linf. It follows the flow into
the late phase without chattering across the ridge where several margins tie.

Two regimes, chosen each step from s = L q_min (L the homogeneity degree, q_min = min_i q_i): an explicit
step of relative size h moves every q_i by about h s, while the loss weights softmax(-q) have temperature 1,
and for l1/linf the sign or argmax pattern of the gradient flips (a second sliding mode, in coordinates)
on a scale that explicit steps resolve only when they are tiny. The switch does not depend on h, so that
runs with different h share the same explicit stretch and converge as h shrinks.

* Not stiff (before separation, or s < ``stiffness``): explicit steepest (Euler) steps of relative size
  min(h, 1/(L q_min)) once the data are separated, so that no q_i moves by much more than the temperature,
  with the usual safeguard (a step that raises log L is halved). log(1/L) grows by O(1) per step here.
* Stiff (or separated while the explicit safeguard has cut the step below 1e-3 of its size, as coordinate
  descent's single-coordinate steps do at ReLU kinks): the ridge step of ``flow.ridge`` (the linearized implicit steepest step in the sharp limit,
  maximize min_i q_i + J_i D over ||D|| <= h ||theta||), solved exactly in normalized units (q / ||theta||^L,
  J / ||theta||^(L-1)). A trust-region test accepts it: the achieved gain of min_i q_i must be at least
  10% of the predicted one and log L must not rise; otherwise h is halved and the step retried. After a
  gain above 75% of the prediction h doubles back towards its initial value, below 25% it halves. Each
  accepted step multiplies log(1/L) by about (1 + L h), so depth grows geometrically in the step count.

The time increment of a ridge step is ||D|| / ||G_+||_* (loss time; divided by L_+ in flow time), the
implicit-Euler relation theta_+ = theta - ds ||G_+||_* dualize(G_+) with G_+ at the end of the step.
Kinks: when a step is rejected, it is retried once (same h) with every ReLU unit whose contribution to q_i is
concave (y_i a_j < 0) and whose pre-activation the step can move across zero entered with both sides, as an
extra row of the LP (the model's ``kink_rows``: the Clarke
piece of the other side), so the LP cannot over-predict the gain by crossing it. Convex kinks need nothing:
the current side's linearization is a lower bound there. Limits: several kinks of one point crossed together
(one row flips one unit) and models without ``kink_rows`` rely on the trust-region test (the achieved gain
catches the shortfall; after ``max_rejections`` rejected tries the rule takes ``cooldown`` explicit steps and
then tries the ridge again: coordinate descent on ReLU nets spends most of its steps there); norms other than l1, l2, linf, other losses and multi-class labels use the explicit
regime only (a relative step with the safeguard).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from kktcheck.params import unflatten

from .ridge import NORMS, ridge_step
from .steps import StepContext, StepOutcome, StepRule


class RidgeStep(StepRule):
    backtrack = True

    def __init__(self, h: float = 0.05, stiffness: float = 10.0, max_rejections: int = 12, cooldown: int = 50):
        super().__init__()
        if not (0 < h < 1 and math.isfinite(h)):
            raise ValueError(f"RidgeStep: the relative step h must lie in (0, 1), got {h!r}")
        if not (stiffness > 0 and math.isfinite(stiffness)):
            raise ValueError(f"RidgeStep: stiffness must be a positive finite number, got {stiffness!r}")
        self.h, self.stiffness, self.max_rejections = float(h), float(stiffness), int(max_rejections)
        self.cooldown = int(cooldown)
        self.reset()

    def reset(self) -> None:
        self.fac, self.h_cur, self.h_explicit, self.w = 1.0, self.h, self.h, None
        self.n_ridge, self.n_rejected, self.n_fallback, self.explicit_left = 0, 0, 0, 0

    def __call__(self, ev, theta_norm):
        speed = ev.speed
        if not speed > 0:
            return 0.0
        return self.h_explicit * (theta_norm if theta_norm > 0 else 1.0) / speed  # theta = 0: a step of length h

    def advance(self, ctx: StepContext) -> StepOutcome:
        qmin = float(ctx.ev.q.min())
        ridge_ok = ctx.field.ridge_norm in NORMS
        stiff = ctx.degree * qmin >= self.stiffness
        self.explicit_left = max(self.explicit_left - 1, 0)
        if ridge_ok and qmin > 0 and (stiff or self.fac < 1e-3) and not self.explicit_left:
            out = self._ridge(ctx)
            if not out.why:
                return out
            self.n_fallback += 1                       # kinks defeat the linearization here: explicit steps
            self.fac, self.h_cur, self.explicit_left = 1.0, self.h, self.cooldown
        self.h_explicit = min(self.h, 1.0 / (ctx.degree * qmin)) if ridge_ok and qmin > 0 else self.h
        return super().advance(ctx)

    def _ridge(self, ctx: StepContext) -> StepOutcome:
        rho, L = ctx.theta_norm, ctx.degree
        q, J = ctx.field.margins_jacobian(ctx.params)
        start = float(q.min()) / rho ** L
        use_kinks = False
        for _ in range(self.max_rejections):
            kinks = ctx.field.kink_rows(ctx.params, q, J, self.h_cur * rho) if use_kinks else None
            qa, Ja = (q, J) if kinks is None else (np.concatenate([q, kinks[0]]), np.vstack([J, kinks[1]]))
            qn, Jn = qa / rho ** L, Ja / rho ** (L - 1)
            try:
                sol = ridge_step(qn, Jn, self.h_cur, ctx.field.ridge_norm, self.w)
            except RuntimeError as err:          # the LP solver gave up: explicit steps take over for a while
                return StepOutcome(ctx.params, None, 0.0, f"ridge solver failed ({err})", "stalled")
            D = unflatten(torch.from_numpy(rho * sol.D).to(ctx.field.device), ctx.params)   # LP on the CPU
            with torch.no_grad():
                new = [p + d for p, d in zip(ctx.params, D)]
                ev_new = ctx.field(new)
            predicted = sol.value - start
            achieved = float(ev_new.q.min()) / rho ** L - start
            ratio = achieved / predicted if predicted > 0 else -math.inf
            if math.isfinite(ev_new.log_L) and ev_new.log_L <= ctx.ev.log_L and ratio >= 0.1:
                self.w, self.n_ridge = sol.w, self.n_ridge + 1
                self.h_cur = min(self.h, 2 * self.h_cur) if ratio > 0.75 else (
                    0.5 * self.h_cur if ratio < 0.25 else self.h_cur)
                step = float(ctx.field.norm(D))
                return StepOutcome(new, ev_new, step / ev_new.speed if ev_new.speed > 0 else 0.0)
            self.n_rejected += 1
            if not use_kinks and ctx.field.has_kinks:     # first retry: the same step with the kinks' pieces
                use_kinks = True
                continue
            self.h_cur *= 0.5
        return StepOutcome(ctx.params, None, 0.0, f"the ridge step was rejected {self.max_rejections} times "
                           f"(relative step now {self.h_cur:.2e}): the linearized margins do not predict the "
                           "model's (kinks everywhere near theta?)", "stalled")

    def __repr__(self):
        return f"RidgeStep({self.h:g}, stiffness={self.stiffness:g})"


def ridge_stats(rule) -> dict:
    """Counts for Trajectory.info: accepted ridge steps and rejected tries (0 for other rules)."""
    return {"ridge_steps": getattr(rule, "n_ridge", 0), "ridge_rejections": getattr(rule, "n_rejected", 0),
            "ridge_fallbacks": getattr(rule, "n_fallback", 0)}


__all__ = ["RidgeStep", "ridge_stats"]
