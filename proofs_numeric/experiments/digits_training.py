"""Full-batch training of a homogeneous model with a torch optimizer, recording margins in several norms.

The loop is the engine's (``flow.integrate`` with the step rule ``flow.OptimizerStep``); this module maps its
Trajectory to the experiments' ``Run`` (log of the MEAN loss, hard margins by norm name, status).

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

from ..flow import integrate
from ..flow.optimizer_step import OptimizerStep


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


def train(model, params0, data, make_opt, steps: int, *, name: str = "run", norms=("l2", "linf"),
          loss: str = "logistic", n_records: int = 120, stop_log_loss: float = -math.inf, progress=None,
          snapshot_steps=()) -> Run:
    """Train a copy of ``params0`` with ``make_opt(list_of_leaf_tensors)`` for ``steps`` full-batch steps, through
    the engine (``flow.integrate`` with ``OptimizerStep``: the optimizer is fed grad of the MEAN loss).
    ``snapshot_steps``: steps at which a copy of theta is kept (``run.detail["snapshots"]``: step -> list of tensors)."""
    X, y = data
    n, saved = X.shape[0], record_steps(steps, n_records)
    target = stop_log_loss + math.log(n) if math.isfinite(stop_log_loss) else None
    tr = integrate(model, [p.detach() for p in params0], (X, y), norm=norms[0], loss=loss,
                   step=OptimizerStep(make_opt), max_steps=steps, target_log_loss=target,
                   save_every=saved, snapshot_every=frozenset(snapshot_steps) or None,
                   margin_norms=tuple(norms[1:]), progress=progress if progress is not None else False)
    keep = np.isin(tr.steps, sorted(saved))      # snapshot-only records are not part of the Run's series
    keep[-1] = True
    margins = {k: tr.margins[kc.norm(k).name if k not in tr.margins else k][keep] for k in norms}
    status, stopped = _status(tr, steps)
    r = Run(name, tr.steps[keep].astype(np.int64), tr.log_loss[keep] - math.log(n), tr.train_accuracy[keep],
            margins, [p.detach().clone() for p in tr.params], status, stopped)
    if snapshot_steps:
        r.detail["snapshots"] = {int(tr.steps[i]): ps for i, ps in tr.snapshots}
    return r


def _status(tr, steps: int) -> tuple[str, int | None]:
    """The engine's status as a Run status: "ok" (all ``steps`` taken), "stopped" (the loss threshold reached
    earlier), "diverged" (the step after the last record was not finite)."""
    last = int(tr.steps[-1])
    if tr.status == "diverged":
        return "diverged", last + 1
    if tr.status == "success" and last < steps:
        return "stopped", last
    return "ok", None


__all__ = ["Run", "train", "record_steps"]
