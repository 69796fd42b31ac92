"""``OptimizerStep``: a discrete optimizer (a torch optimizer from ``proofs_numeric.optim``) as the engine's step rule.

The engine (``flow.integrate``) evaluates the field at theta_k (log L, G = grad log L, the margins) and asks its
step rule for theta_{k+1}. For a discrete method the rule is the optimizer itself:

    theta_{k+1} = optimizer.step(theta_k, g_k),   g_k = the gradient the optimizer is fed,

with the optimizer's memory (momentum, Adam's moments, Shampoo's preconditioners) kept in the rule, as
diffrax keeps a controller's memory in the controller. What the optimizer is fed is ``gradient``:

* ``"mean_loss"`` (default): g = grad of the MEAN loss (1/n) L = exp(log L - log n) G. Scale-sensitive
  methods (GD, Adam with eps > 0) see the gradient that PyTorch's default ``reduction="mean"`` gives; it
  underflows to 0 once L / n < 1e-308.
* ``"loss"``: g = grad L = exp(log L) G (the SUM loss).
* ``"log_loss"``: g = G = grad log L. Scale-free: normalized steepest descent gives the same direction as for
  grad L, with no underflow at any depth.

The increment of the engine's time variable is h = 1 per step, so a Trajectory's ``s`` is the step count.
A step whose new parameters or loss are not finite ends the run as "diverged" (nothing is retried: the
optimizer's state has already moved).
"""
from __future__ import annotations

import math

import torch

from .steps import StepContext, StepOutcome, StepRule

GRADIENTS = ("mean_loss", "loss", "log_loss")


class OptimizerStep(StepRule):
    """One step of ``make_optimizer(leaf_tensors)`` per engine step (see the module docstring)."""
    needs_theta_norm = False
    frame_ok = False          # the optimizer's state (momentum, second moments) is in absolute units: never rescaled

    def __init__(self, make_optimizer, gradient: str = "mean_loss"):
        super().__init__()
        if not callable(make_optimizer):
            raise TypeError(f"make_optimizer must be callable (list of tensors -> torch optimizer), got "
                            f"{type(make_optimizer).__name__}")
        if gradient not in GRADIENTS:
            raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
        self.make_optimizer, self.gradient = make_optimizer, gradient
        self.leaves, self.optimizer, self.last = None, None, None

    def reset(self) -> None:
        """A fresh optimizer (no momentum, step counter 0) at the next step."""
        super().reset()
        self.leaves, self.optimizer, self.last = None, None, None

    def _scale(self, ctx: StepContext) -> float:
        if self.gradient == "log_loss":
            return 1.0
        n = int(ctx.field.X.shape[0]) if self.gradient == "mean_loss" else 1
        return math.exp(ctx.ev.log_L - math.log(n))

    def advance(self, ctx: StepContext) -> StepOutcome:
        if self.optimizer is None:
            self.leaves = [p.detach().clone() for p in ctx.params]
            self.optimizer, self.last = self.make_optimizer(self.leaves), None
        scale = self._scale(ctx)
        with torch.no_grad():
            fresh = ctx.params is not self.last        # the loop handed back our own last output: leaves hold it
            for leaf, p, g in zip(self.leaves, ctx.params, ctx.ev.G):
                if fresh:
                    leaf.copy_(p)
                leaf.grad = g * scale if scale != 1.0 else g.clone()
        self.optimizer.step()
        new = [p.detach().clone() for p in self.leaves]
        with torch.no_grad():
            ev = ctx.field(new)     # non-finite parameters give a non-finite loss
        if not math.isfinite(ev.log_L):
            return StepOutcome(None, None, 1.0, f"non-finite parameters or loss (log L = {ev.log_L}) after the "
                               "optimizer step", "diverged")
        self.last = new
        return StepOutcome(new, ev, 1.0)

    def __repr__(self):
        return f"OptimizerStep(gradient={self.gradient!r})"


__all__ = ["OptimizerStep", "GRADIENTS"]
