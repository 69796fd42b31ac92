"""Test oracle (not part of the package): the per-run reference for ``batched.train_batched``, one seed at a
time from the library's own pieces, used by tests/proofs_numeric/test_batched.py and benchmarks/batched.py.

``proofs_numeric.models.TwoLayerReLU(d, k)`` (params [W (k, d), a (1, k)]), G = grad log L by autograd
(``proofs_numeric.losses.grad_log_loss``, exp loss summed) handed to the torch optimizer as ``.grad``, and the
normalized optimizer of the algorithm, theta -= eta_t dualize(G), with eta_t set at every step by the batched
engine's rule (see ``batched``): GD = ``NormalizedSteepestDescent(norm="l2")``, CD =
``CoordinateDescent(normalized=True)``, SD = ``SignDescent(normalized=True)``. Switching (``switch_to``)
replaces the optimizer at the first step with 100% train accuracy; the run stops once log L < stop_log_loss.
Same records as the batched engine (hard margins via ``kc.margin``'s formula, soft margins), for the tests
and benchmarks/batched.py.
"""
from __future__ import annotations

import math

import numpy as np
import torch

import kktcheck as kc

from proofs_numeric.losses import eval_log_loss
from proofs_numeric.models import TwoLayerReLU
from proofs_numeric.experiments.batched import ALGO_NORM, GROW, KAPPA_MIN, NORMS, SHRINK, STALL_TOL, KinkSlide, record_grid


def make_optimizer(name: str, params):
    """The normalized optimizer of algorithm ``name`` (theta -= lr dualize(G)); lr is set at every step."""
    from proofs_numeric import optim as O
    if name == "GD":
        return O.NormalizedSteepestDescent(params, lr=1.0, norm="l2")
    if name == "CD":
        return O.CoordinateDescent(params, lr=1.0, normalized=True)
    if name == "SD":
        return O.SignDescent(params, lr=1.0, normalized=True)
    raise ValueError(f"unknown algorithm {name!r}; valid: {', '.join(ALGO_NORM)}")


def _hold(out: dict, later_steps: list):
    """Repeat the last record at ``later_steps`` (a frozen run keeps its values)."""
    for s in later_steps:
        out["steps"].append(s)
        for key in ("log_loss", "accuracy"):
            out[key].append(out[key][-1])
        for key in ("margins", "soft"):
            for p in NORMS:
                out[key][p].append(out[key][p][-1])


def train_loop(W0, a0, X, y, algo: str, *, lr: dict, steps: int, switch_to=None, max_rel_step: float = 0.05,
               n_records: int = 60, stop_log_loss: float = -1e12, records: bool = True,
               kink_slide: bool = True) -> dict:
    """One run; returns dict(steps, log_loss, accuracy, margins, soft, fit_step, stop_step, W, a). CD steps
    dualize the gradient chosen by ``batched.KinkSlide`` (on the flat vec(W, a)) when ``kink_slide``."""
    k, d = W0.shape
    model = TwoLayerReLU(d, k)
    ps = [W0.detach().clone().to(torch.float64).requires_grad_(True),
          a0.detach().clone().to(torch.float64).reshape(1, k).requires_grad_(True)]
    opt, fit, stop, at_fit = make_optimizer(algo, ps), -1, -1, {p: math.nan for p in NORMS}
    cur = algo
    rec = record_grid(steps, n_records)
    out = {"steps": [], "log_loss": [], "accuracy": [], "margins": {p: [] for p in NORMS},
           "soft": {p: [] for p in NORMS}}
    kappa, prev, prev2 = 1.0, math.inf, math.inf
    slide = KinkSlide(torch.zeros(1, k * d + k, dtype=torch.float64)) if kink_slide else None
    for t in range(steps + 1):
        lL, G, q = eval_log_loss(model, ps, X, y, "exp")
        stuck = lL >= prev2 - STALL_TOL * max(abs(lL), 1.0)
        kappa = max(KAPPA_MIN, kappa * SHRINK) if stuck else min(1.0, kappa * GROW)
        prev, prev2 = lL, prev
        acc = float((q > 0).double().mean())
        newly = fit < 0 and acc == 1.0
        if newly:
            fit = t
            if switch_to:
                opt, cur = make_optimizer(switch_to, ps), switch_to
        if stop < 0 and lL < stop_log_loss:
            stop = t
        if newly:
            theta = [p.detach() for p in ps]
            at_fit = {p: float(q.min()) / float(kc.norm(p)(theta)) ** 2 for p in NORMS}
        if records and t in rec:
            out["steps"].append(t), out["log_loss"].append(lL), out["accuracy"].append(acc)
            theta = [p.detach() for p in ps]
            for p in NORMS:
                r2 = float(kc.norm(p)(theta)) ** 2
                out["margins"][p].append(float(q.min()) / r2)
                out["soft"][p].append(-lL / r2 if lL < 0 else math.nan)
        if t == steps or stop >= 0:
            if t < steps and records:   # frozen: hold the values to the batched engine's record steps
                _hold(out, sorted(r for r in rec if r > t))
            break
        if slide is not None:
            flat = slide(torch.cat([G[0].reshape(1, -1), G[1].reshape(1, -1)], 1), torch.tensor([cur == "CD"]))[0]
            G = [flat[:k * d].reshape(k, d), flat[k * d:].reshape(1, k)]
        for p, gp in zip(ps, G):
            p.grad = gp
        nrm = kc.norm(ALGO_NORM[cur])
        dual = float(nrm.dual(G))
        if dual > 0 and stop < 0:
            u_inf = float(kc.norm("l1").dual(G)) / dual if cur == "GD" else 1.0   # ||dualize(G)||_inf = ||G||_inf / ||G||_2
            top = float(kc.norm("linf")([p.detach() for p in ps]))
            opt.param_groups[0]["lr"] = kappa * min(lr[cur] / dual, max_rel_step * top / u_inf)
            opt.step()
    out = {k_: (np.asarray(v) if not isinstance(v, dict) else {p: np.asarray(x) for p, x in v.items()})
           for k_, v in out.items()}
    out.update(margins_at_fit=at_fit, fit_step=fit, stop_step=stop, W=ps[0].detach().clone(), a=ps[1].detach().reshape(k).clone())
    return out


__all__ = ["train_loop", "make_optimizer"]
