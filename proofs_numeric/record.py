"""A recorder for a user's own training loop: loss, hard and soft margins in chosen norms, optionally the
KKT residual, and the report's figure of them.

    rec = pn.record(net, (X, y), norms=("l2", "linf"), every=10)
    for t in range(T):
        opt.zero_grad(); loss_fn(net(X), y).backward(); opt.step()
        rec.step()                     # or once: rec.attach(opt), and the optimizer's step() records
    rec.plot("margins.png")

Every ``every`` calls of ``step()`` (and at the first call) it records, with kktcheck's public functions:
* log L = logsumexp_i log l(q_i) (``kc.log_loss``; ``loss`` "exp" or "logistic"), q_i = y_i f(x_i; theta);
* the hard margin gamma_k = min_i q_i / ||theta||_k^L (``kc.margin``) in each norm k of ``norms``;
* the soft margin l^{-1}(L) / ||theta||_k^L (``kc.soft_margin``; for exp loss log(1/L)/||theta||_k^L), which is
  positive only once L < l(0) (the separated phase);
* every ``residual_every`` records (if given): ``kc.residual(net, data, norm=residual_norm)`` reported as
  max(stationarity_rel, complementarity_rel), the approximate-KKT residual of (MM) in that norm (nan, with the
  reason as status, while some q_i <= 0).
L is the degree of homogeneity kc detects. A step where a margin is undefined (theta = 0) records nan.
"""
from __future__ import annotations

import math

import torch

import kktcheck as kc


class Recorder:
    """Records margins of ``net`` on ``data`` during training; see the module docstring."""

    def __init__(self, net, data, norms=("l2", "linf"), every: int = 10, loss: str = "exp",
                 residual_every: int | None = None, residual_norm: str | None = None):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        if residual_every is not None and (not isinstance(residual_every, int) or residual_every < 1):
            raise ValueError(f"residual_every must be a positive integer or None, got {residual_every!r}")
        if not norms:
            raise ValueError("norms must name at least one norm, e.g. ('l2', 'linf')")
        self.net, self.data, self.loss = net, data, loss
        self.norms = tuple(kc.norm(n).name for n in norms)
        self.every, self.residual_every = every, residual_every
        self.residual_norm = kc.norm(residual_norm or norms[0]).name
        self.calls = 0
        self.steps, self.log_loss, self.residuals = [], [], []
        self.margins = {n: [] for n in self.norms}
        self.soft_margins = {n: [] for n in self.norms}
        self._handle = None

    def step(self) -> bool:
        """Count one optimizer step; record when the count is 1 or a multiple of ``every``. True if recorded."""
        self.calls += 1
        if self.calls == 1 or self.calls % self.every == 0:
            self.log(self.calls)
            return True
        return False

    def log(self, step: int) -> None:
        """Record the current state of the network under the label ``step``."""
        X, y = self.data
        X64 = torch.as_tensor(X, dtype=torch.float64)
        y64 = torch.as_tensor(y, dtype=torch.float64)
        with torch.no_grad():
            out = self.net(X64)
        out = out[:, 0] if out.dim() == 2 and out.shape[1] == 1 else out
        self.steps.append(int(step))
        self.log_loss.append(float(kc.log_loss(out, y64, self.loss)))
        for n in self.norms:
            self.margins[n].append(_or_nan(lambda: kc.margin(self.net, (X64, y64), norm=n)))
            self.soft_margins[n].append(_or_nan(lambda: kc.soft_margin(self.net, (X64, y64), norm=n,
                                                                         loss=self.loss)))
        k = len(self.steps)
        if self.residual_every and (k - 1) % self.residual_every == 0:
            try:
                res = kc.residual(self.net, (X64, y64), norm=self.residual_norm)
                self.residuals.append((int(step), max(res.stationarity_rel, res.complementarity_rel),
                                       str(res.status)))
            except ValueError as exc:   # not yet separated: (MM) has no feasible rescaling of theta
                self.residuals.append((int(step), math.nan, f"not computed: {str(exc)[:80]}"))

    def attach(self, optimizer: torch.optim.Optimizer):
        """Record after every ``optimizer.step()`` (a step post-hook); returns self. ``detach()`` removes it."""
        self.detach()
        self._handle = optimizer.register_step_post_hook(lambda opt, args, kwargs: self.step())
        return self

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def to_dict(self) -> dict:
        return {"steps": list(self.steps), "log_loss": list(self.log_loss), "loss": self.loss,
                "margins": {n: list(v) for n, v in self.margins.items()},
                "soft_margins": {n: list(v) for n, v in self.soft_margins.items()},
                "residual_norm": self.residual_norm,
                "residuals": [{"step": s, "residual": r, "status": st} for s, r, st in self.residuals]}

    def plot(self, path, title: str = ""):
        """The report's figure style: log10 L against the step, then one panel per norm with the hard and soft
        margins from the first step with L < 1 (log-log), and the KKT residual if recorded. Returns the path."""
        from .plotting import plot_panels
        if not self.steps:
            raise ValueError("nothing recorded yet: call rec.step() after optimizer.step() (or rec.attach(opt))")
        s = [t for t in self.steps]
        panels = [dict(title="training loss", curves={"log10 L": (s, [v / math.log(10) for v in self.log_loss])},
                       xlabel="step", ylabel="log10 L", logx=True)]
        i0 = next((i for i, v in enumerate(self.log_loss) if v < 0), len(s))
        for n in self.norms:
            panels.append(dict(title=f"margins, {n} norm (from L < 1)", xlabel="step",
                               ylabel=f"normalized margin ({n})",
                               logx=True, logy="auto",
                               curves={"hard margin": (s[i0:], self.margins[n][i0:]),
                                       "soft margin": (s[i0:], self.soft_margins[n][i0:])}))
        if self.residuals:
            panels.append(dict(title=f"KKT residual, {self.residual_norm} norm", xlabel="step", logx=True, logy=True,
                               ylabel="max(stationarity_rel, complementarity_rel)",
                               curves={"kc.residual": ([r[0] for r in self.residuals],
                                                       [r[1] for r in self.residuals])}))
        return plot_panels(panels, path, suptitle=title or f"recorded every {self.every} steps ({self.loss} loss)")


def _or_nan(fn) -> float:
    try:
        return float(fn())
    except ValueError:      # theta = 0: the normalized margin is undefined
        return math.nan


def record(net, data, norms=("l2", "linf"), every: int = 10, *, loss: str = "exp", residual_every=None,
           residual_norm=None, optimizer=None) -> Recorder:
    """A ``Recorder`` for ``net`` on ``data`` = (X, y); with ``optimizer``, attached to its step()."""
    rec = Recorder(net, data, norms, every, loss, residual_every, residual_norm)
    return rec.attach(optimizer) if optimizer is not None else rec


__all__ = ["record", "Recorder"]
