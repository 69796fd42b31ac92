"""TransformOptimizer: a torch.optim.Optimizer whose direction is a composed transform (transforms.py).

One step on each parameter group (its tensors, in order, are the block list the norm acts on):

    t   <- t + 1
    d   =  direction(group).update(g, states, params, t)       (g: the .grad blocks, None read as 0)
    theta <- theta - eta_t d,     eta_t = group["lr"] * group["schedule"](t)

Hyper-parameters are read from ``param_groups`` at every step, so torch LR schedulers and
``load_state_dict`` behave as for torch's own optimizers. Parameters must be float64 (the verification
dtype); subclasses define ``direction(group)`` and ``_implicit_norm(group)``.
"""
from __future__ import annotations

import math

import torch

from .schedules import as_schedule


def check_lr(lr) -> float:
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        raise TypeError(f"lr must be a positive number, got {type(lr).__name__}") from None
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a finite number > 0, got {lr}; pass a positive step size "
                         "(use schedule=... for a decaying step)")
    return lr


def check_beta(name: str, beta) -> float:
    beta = float(beta)
    if not (0.0 <= beta < 1.0):
        raise ValueError(f"{name} must lie in [0, 1), got {beta}")
    return beta


def check_eps(name: str, eps, positive: bool = False) -> float:
    eps = float(eps)
    if not (eps > 0 if positive else eps >= 0) or not math.isfinite(eps):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {eps}")
    return eps


class TransformOptimizer(torch.optim.Optimizer):
    normalized: bool = True   # True: ||d|| = 1 in implicit_norm() (for memoryless methods / first step)

    def __init__(self, params, defaults: dict):
        defaults = dict(defaults)
        defaults["lr"] = check_lr(defaults["lr"])
        defaults["schedule"] = as_schedule(defaults.get("schedule"))
        super().__init__(params, defaults)
        for group in self.param_groups:
            check_lr(group["lr"])
            for p in group["params"]:
                if p.dtype != torch.float64:
                    raise TypeError(f"{type(self).__name__} works in float64 (the verification dtype); got a "
                                    f"{p.dtype} parameter of shape {tuple(p.shape)}. Call model.double() first.")

    def direction(self, group: dict):  # pragma: no cover - interface
        raise NotImplementedError

    def _implicit_norm(self, group: dict):  # pragma: no cover - interface
        raise NotImplementedError

    def implicit_norm(self, group: int | None = None):
        """The kktcheck Norm in which the theory predicts max-margin (SPEC section 7 table), on the block list
        of one param group (its tensors in order). ``group`` is required when there are several groups."""
        if group is None:
            if len(self.param_groups) != 1:
                raise ValueError(f"{len(self.param_groups)} param groups: pass group=k; the implicit norm is "
                                 "stated on one group's parameters")
            group = 0
        return self._implicit_norm(self.param_groups[group])

    def step_size(self, group: int = 0, t: int | None = None) -> float:
        """eta_t = lr * schedule(t) of a group; t defaults to the next step."""
        g = self.param_groups[group]
        if t is None:
            ps = g["params"]
            t = (self.state[ps[0]].get("step", 0) if ps else 0) + 1
        return g["lr"] * g["schedule"](t)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = list(group["params"])
            if not params or all(p.grad is None for p in params):
                continue
            gs = []
            for p in params:
                if p.grad is not None and p.grad.is_sparse:
                    raise TypeError(f"{type(self).__name__} does not support sparse gradients")
                gs.append(torch.zeros_like(p) if p.grad is None else p.grad.detach().to(torch.float64))
            states = [self.state[p] for p in params]
            t = states[0].get("step", 0) + 1
            for s in states:
                s["step"] = t
            ds = self.direction(group).update(gs, states, params, t)
            eta = float(group["lr"]) * float(group["schedule"](t))
            for p, d in zip(params, ds):
                p.add_(d.to(p.dtype), alpha=-eta)
        return loss


__all__ = ["TransformOptimizer", "check_lr", "check_beta", "check_eps"]
