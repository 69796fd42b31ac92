"""Full-batch training of a homogeneous model with a torch optimizer, recording margins in several norms.

Loss: the MEAN logistic (or exp) loss L = (1/n) sum_i l(y_i f(x_i)) (our choice, PyTorch's default
reduction), computed in log space: log L = kc.log_loss(f, y) - log n. Gradient handed to the optimizer:
grad L = L * grad(log L), so scale-sensitive methods (GD, Adam with eps > 0) see the true gradient and
nothing overflows; exp(log L) underflows only below 1e-308.

Recorded at ~``n_records`` log-spaced steps (and the last): log L, train accuracy, and the hard normalized
margins gamma_bar_norm = min_i y_i f(x_i) / ||theta||^L for every norm in ``norms`` (kc.norm names, e.g.
"l2", "linf", "spectral"), identical to kc.margin (tests check this). Training stops early when
log L < ``stop_log_loss`` (the paper's SD early stop; the plots end such a run at its last record, marked as
stopped) or when the iterate becomes non-finite (status "diverged").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

import kktcheck as kc


@dataclass
class Run:
    name: str
    steps: np.ndarray
    log_loss: np.ndarray
    accuracy: np.ndarray
    margins: dict
    params: list
    status: str = "ok"          # "ok" | "stopped" (loss threshold reached) | "diverged"
    stopped_at: int | None = None
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "steps": self.steps.tolist(), "log_loss": self.log_loss.tolist(),
                "accuracy": self.accuracy.tolist(), "margins": {k: v.tolist() for k, v in self.margins.items()},
                "params": [p.tolist() for p in self.params], "status": self.status, "stopped_at": self.stopped_at,
                "detail": self.detail}

    @classmethod
    def from_dict(cls, d: dict) -> "Run":
        return cls(d["name"], np.asarray(d["steps"]), np.asarray(d["log_loss"], dtype=float),
                   np.asarray(d["accuracy"], dtype=float),
                   {k: np.asarray(v, dtype=float) for k, v in d["margins"].items()},
                   [torch.tensor(p, dtype=torch.float64) for p in d["params"]], d["status"], d["stopped_at"],
                   d.get("detail", {}))

    def at_loss(self, key: str, log_loss_level: float) -> float:
        """The recorded ``margins[key]`` at the first record with log L <= level (nan if never reached)."""
        idx = np.flatnonzero(self.log_loss <= log_loss_level)
        return float(self.margins[key][idx[0]]) if idx.size else math.nan


def record_steps(steps: int, n_records: int) -> set:
    grid = np.unique(np.round(np.logspace(0, math.log10(max(steps, 1)), n_records)).astype(int))
    return set(int(s) for s in grid) | {0, steps}


def margins_of(model, params, X, y, norms) -> tuple[dict, float]:
    with torch.no_grad():
        q = y * model.apply_params(params, X)
    qmin, L = float(q.min()), model.degree
    out = {}
    for name in norms:
        r = float(kc.norm(name)(params))
        try:
            out[name] = qmin / r ** L if r > 0 else math.nan
        except OverflowError:  # r^L beyond float range (a diverging run): the same ratio in log space
            out[name] = math.copysign(math.exp(math.log(abs(qmin)) - L * math.log(r)), qmin) if qmin else 0.0
    return out, float((q > 0).double().mean())


def train(model, params0, data, make_opt, steps: int, *, name: str = "run", norms=("l2", "linf"),
          loss: str = "logistic", n_records: int = 120, stop_log_loss: float = -math.inf, progress=None) -> Run:
    """Train a copy of ``params0`` with ``make_opt(list_of_leaf_tensors)`` for ``steps`` full-batch steps."""
    X, y = data
    n = X.shape[0]
    ps = [p.detach().clone().requires_grad_(True) for p in params0]
    opt = make_opt(ps)
    rec = record_steps(steps, n_records)
    S, LL, A, M = [], [], [], {k: [] for k in norms}
    status, stopped = "ok", None
    for t in range(steps + 1):
        out = model.apply_params(ps, X)
        lL = kc.log_loss(out, y, loss) - math.log(n)
        lval = float(lL.detach())
        done = lval < stop_log_loss or t == steps
        bad = not math.isfinite(lval) or not all(bool(torch.isfinite(p).all()) for p in ps)
        if t in rec or done or bad:
            if bad:
                status, stopped = "diverged", t
                break
            m, acc = margins_of(model, [p.detach() for p in ps], X, y, norms)
            S.append(t), LL.append(lval), A.append(acc)
            for k in norms:
                M[k].append(m[k])
        if done:
            if t < steps:
                status, stopped = "stopped", t
            break
        opt.zero_grad(set_to_none=False)
        lL.backward()
        scale = math.exp(lval)
        with torch.no_grad():
            for p in ps:
                p.grad.mul_(scale)
        opt.step()
        if progress is not None:
            progress.update(1)
    return Run(name, np.asarray(S), np.asarray(LL), np.asarray(A), {k: np.asarray(v) for k, v in M.items()},
               [p.detach().clone() for p in ps], status, stopped)


__all__ = ["Run", "train", "margins_of", "record_steps"]
