"""TransformOptimizer: a torch.optim.Optimizer whose direction is a composed transform (transforms.py).

One step on each parameter group (its tensors, in order, are the block list the norm acts on):

    t   <- t + 1
    d   =  direction(group).update(g, states, params, t)       (g: the .grad blocks, None read as 0)
    theta <- theta - eta_t d,     eta_t = group["lr"] * group["schedule"](t)

Hyper-parameters are read from ``param_groups`` at every step, so torch LR schedulers and
``load_state_dict`` behave as for torch's own optimizers; they are re-validated at every step (an lr edited
in param_groups or loaded from a state_dict is checked there). Parameters must be float64 (the verification
dtype); subclasses define ``direction(group)`` and ``_implicit_norm(group)``.

Never a silent wrong step: a NaN/inf gradient raises ValueError naming the parameter
(``nonfinite="raise"``, the default) or skips the group's step without touching weights or state
(``nonfinite="skip"``); a step whose new weights would overflow float64 raises before anything is written.
``state_dict()`` records the optimizer's class, and ``load_state_dict`` refuses another optimizer's state.
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


def _number(name: str, v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}") from None


def check_beta(name: str, beta) -> float:
    beta = _number(name, beta)
    if not (0.0 <= beta < 1.0):
        raise ValueError(f"{name} must lie in [0, 1), got {beta}")
    return beta


def check_betas(betas) -> tuple[float, float]:
    """(beta1, beta2), each in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2) with entries in [0, 1), got {betas!r}; "
                         "e.g. betas=(0.9, 0.999)")
    return check_beta("betas[0] (beta1)", betas[0]), check_beta("betas[1] (beta2)", betas[1])


def check_eps(name: str, eps, positive: bool = False) -> float:
    eps = _number(name, eps)
    if not (eps > 0 if positive else eps >= 0) or not math.isfinite(eps):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {eps}")
    return eps


def check_nonfinite(mode) -> str:
    if mode not in ("raise", "skip"):
        raise ValueError(f"nonfinite must be 'raise' or 'skip', got {mode!r}")
    return mode


# hyper-parameter checks re-run at every step (param_groups may be edited or loaded)
_GROUP_CHECKS = {
    "lr": check_lr, "beta": lambda v: check_beta("beta", v), "betas": check_betas,
    "eps": lambda v: check_eps("eps", v), "epsilon": lambda v: check_eps("epsilon", v, positive=True),
    "ratio": lambda v: check_eps("ratio", v, positive=True), "nonfinite": check_nonfinite,
}
_DEFAULTED = {"nonfinite": "raise"}   # keys older state_dicts may lack


class TransformOptimizer(torch.optim.Optimizer):
    normalized: bool = True   # True: ||d|| = 1 in implicit_norm() (for memoryless methods / first step)

    def __init__(self, params, defaults: dict):
        defaults = dict(defaults)
        defaults["lr"] = check_lr(defaults["lr"])
        defaults["nonfinite"] = check_nonfinite(defaults.get("nonfinite", "raise"))
        defaults["schedule"] = as_schedule(defaults.get("schedule"))
        super().__init__(params, defaults)
        for g, group in enumerate(self.param_groups):
            check_lr(group["lr"])
            for i, p in enumerate(group["params"]):
                where = f"param_groups[{g}]['params'][{i}] (shape {tuple(p.shape)})"
                if p.dtype != torch.float64:
                    raise TypeError(f"{type(self).__name__} works in float64 (the verification dtype); got a "
                                    f"{p.dtype} parameter of shape {tuple(p.shape)}. Call model.double() first.")
                if p.device.type == "meta":
                    raise ValueError(f"{where} is on the 'meta' device (a shape without values): materialize the "
                                     "model first, e.g. model.to_empty(device='cpu') and then load its weights")
                if p.numel() == 0:
                    raise ValueError(f"{where} has no entries (a layer of width 0); build every layer with "
                                     "width >= 1")

    def direction(self, group: dict):  # pragma: no cover - interface
        raise NotImplementedError

    def _implicit_norm(self, group: dict):  # pragma: no cover - interface
        raise NotImplementedError

    def implicit_norm(self, group: int | None = None):
        """The kktcheck Norm in which the theory predicts max-margin (l2 for GD-type methods, linf for sign/Signum/Adam without eps, max-of-spectral for Muon), on the block list
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

    def _check_group(self, k: int, group: dict) -> None:
        for key, check in _GROUP_CHECKS.items():
            if key in group:
                try:
                    check(group[key])
                except (TypeError, ValueError) as err:
                    raise type(err)(f"{type(self).__name__}: param_groups[{k}]['{key}'] = {group[key]!r}: {err}") \
                        from None
        if not callable(group.get("schedule")):
            raise TypeError(f"{type(self).__name__}: param_groups[{k}]['schedule'] must be callable")

    def _gradients(self, k: int, group: dict, params: list):
        """Float64 gradient blocks (None read as 0), or None when a block is NaN/inf and nonfinite='skip'."""
        gs = []
        for i, p in enumerate(params):
            if p.grad is not None and p.grad.is_sparse:
                raise TypeError(f"{type(self).__name__} does not support sparse gradients")
            g = torch.zeros_like(p) if p.grad is None else p.grad.detach().to(torch.float64)
            if not bool(torch.isfinite(g).all()):
                if group["nonfinite"] == "skip":
                    return None
                raise ValueError(f"{type(self).__name__}: the gradient of param_groups[{k}]['params'][{i}] "
                                 f"(shape {tuple(p.shape)}) contains NaN or inf; no weight was changed. Fix the "
                                 "loss (e.g. compute it in log space) or pass nonfinite='skip' to skip such steps")
            gs.append(g)
        return gs

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for k, group in enumerate(self.param_groups):
            self._check_group(k, group)
            params = list(group["params"])
            if not params or all(p.grad is None for p in params):
                continue
            gs = self._gradients(k, group, params)
            if gs is None:
                continue
            states = [self.state[p] for p in params]
            t = states[0].get("step", 0) + 1
            backup = [{key: v.clone() if isinstance(v, torch.Tensor) else v for key, v in s.items()} for s in states]
            for s in states:
                s["step"] = t
            try:
                ds = self.direction(group).update(gs, states, params, t)
                eta = float(group["lr"]) * float(group["schedule"](t))
                new = [p.detach() - eta * d.to(p.dtype) for p, d in zip(params, ds)]
                for i, (p, v) in enumerate(zip(params, new)):
                    if not bool(torch.isfinite(v).all()):
                        raise ValueError(f"{type(self).__name__}: the step for param_groups[{k}]['params'][{i}] "
                                         f"(shape {tuple(p.shape)}) is not finite (eta = {eta:.3g}, max|d| = "
                                         f"{float(ds[i].abs().max()):.3g}): float64 overflow. No weight was "
                                         "changed; lower lr or rescale the loss")
            except ValueError as err:
                for s, b in zip(states, backup):   # leave the optimizer exactly as before the failed step
                    s.clear()
                    s.update(b)
                if "param_groups[" in str(err):
                    raise
                sep = "" if str(err).startswith("['params']") else ": "
                raise ValueError(f"{type(self).__name__}: param_groups[{k}]{sep}{err}") from None
            for p, v in zip(params, new):
                p.copy_(v)
        return loss

    def state_dict(self):
        sd = super().state_dict()
        sd["optimizer"] = type(self).__name__
        return sd

    def load_state_dict(self, state_dict):
        """torch's load_state_dict, refusing a state saved by another optimizer (other hyper-parameters)."""
        sd = dict(state_dict)
        saved = sd.pop("optimizer", None)
        mine = type(self).__name__
        groups = [dict(g) for g in sd.get("param_groups", [])]
        for g in groups:
            for key, default in _DEFAULTED.items():
                g.setdefault(key, default)
        ours = set(self.param_groups[0]) - {"params"} if self.param_groups else set()
        theirs = set(groups[0]) - {"params"} if groups else set()
        if (saved is not None and saved != mine) or (groups and ours != theirs):
            raise ValueError(f"this state_dict was saved by {saved or 'another optimizer'}, not {mine}: its "
                             f"param_groups have {sorted(theirs)}, {mine} needs {sorted(ours)}. Load a state_dict "
                             f"saved by {mine}")
        sd["param_groups"] = groups
        super().load_state_dict(sd)


__all__ = ["TransformOptimizer", "check_lr", "check_beta", "check_betas", "check_eps", "check_nonfinite"]
