"""The vector field of the steepest flow (dtheta/dt in {argmin_{||u|| <= ||g||_*} <g, u>}, g = grad L) in flow time t or loss time s.

With g = grad L and G = grad log L = g / L (computed in log space, see ``proofs_numeric.losses``):

* flow time t:  dtheta/dt = -||g||_* dualize(g)  = -L ||G||_* dualize(G)   (Prop. A.3: ||theta'|| = ||g||_*);
* loss time s:  ds = L dt, dtheta/ds = -||G||_* dualize(G)                  (the same curve, reparametrized).

``dualize`` is the norm's duality map (a unit-norm u with <G, u> = ||G||_*), so the direction is exactly
``norm.steepest(G)`` (l2: gradient descent; l1: greedy coordinate descent, first argmax; linf: sign
descent, sign(0) = 0; spectral: U V^T per layer).  d log L/ds = <G, v> = -||G||_*^2.
The hot path asks the norm for ||G||_* and dualize(G) in one call (``Norm.dual_and_dualize``: one validation);
the built-in Linear, TwoLayerReLU, ReLUNet and DiagonalNet give G in closed form (``forward_vjp``; ``proofs_numeric.losses``).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from kktcheck.jacobian import margins_and_jacobian

from ..device import model_on, resolve_device
from ..losses import eval_log_loss
from .scaled import eval_scaled, log_depth

TIMES = ("loss", "flow")


def all_finite(blocks) -> bool:
    """Every entry finite: one sum per block (inf or NaN propagate), the exact entrywise test only when a sum is not
    finite (a sum of finite entries can overflow). 5-10x cheaper than isfinite(b).all() on the hot path."""
    if all(math.isfinite(float(b.sum())) for b in blocks):
        return True
    return all(bool(torch.isfinite(b).all()) for b in blocks)


class FieldEval:
    """The field at one theta: log L, G = grad log L, the margins q, and (computed on first use, once) the dual norm
    ||G||_*, the unit steepest direction u = dualize(G) and the speed factor c with v = -c u: ||G||_* (loss time)
    or L ||G||_* (flow time). Discrete optimizers (``OptimizerStep``) use only G, so they never dualize."""

    def __init__(self, log_L, G, q, norm=None, time="loss", gdual=None, u=None, log_scale=0.0, degree=1,
                 depth=None):
        self.log_L, self.G, self.q = log_L, G, q
        self._norm, self._time = norm, time
        self._dual = None if gdual is None else (gdual, u)
        self.log_scale, self.degree = log_scale, degree
        self.log_depth = log_depth(log_L) if depth is None else depth

    def deeper_or_level(self, other) -> bool:
        """log L here <= log L at ``other`` (compared through log log(1/L) when a log L is beyond float64, -inf)."""
        if math.isfinite(self.log_L) and math.isfinite(other.log_L):
            return self.log_L <= other.log_L
        if math.isfinite(self.log_depth) and math.isfinite(other.log_depth):
            return self.log_depth >= other.log_depth
        return self.log_L <= other.log_L

    @property
    def finite(self) -> bool:
        """A usable state: log L finite, or beyond float64 with a finite log log(1/L)."""
        return math.isfinite(self.log_L) or math.isfinite(self.log_depth)

    def _dualized(self):
        if self._dual is None:
            if not all_finite(self.G):                                    # overflowed outputs: no direction
                self._dual = (math.nan, [torch.zeros_like(g) for g in self.G])
            else:
                with torch.no_grad():
                    self._dual = self._norm.dual_and_dualize(self.G)
        return self._dual

    @property
    def gdual(self) -> float:
        """||G||_* (dual of the algorithm's norm)."""
        return self._dualized()[0]

    @property
    def u(self) -> list:
        """dualize(G): ||u|| = 1 and <G, u> = ||G||_* (0 when G = 0)."""
        return self._dualized()[1]

    @property
    def speed_factor(self) -> float:
        """c with dP/dtau = -c u in the frame theta = e^kappa P (kappa = ``log_scale``; P = theta when kappa = 0):
        loss time ||G||_* e^(-kappa) = e^((L-2) kappa) ||G_P||_*, flow time L ||G||_* e^(-kappa)."""
        gd = self.gdual
        if self.log_scale:
            gd = gd * math.exp((self.degree - 2) * self.log_scale)
        return gd if self._time == "loss" else math.exp(self.log_L) * gd

    @property
    def log_gdual(self) -> float:
        """log ||G||_* of the true gradient G = e^((L-1) kappa) G_P (finite where ||G||_* overflows)."""
        gd = self.gdual
        return (self.degree - 1) * self.log_scale + math.log(gd) if gd > 0 else -math.inf

    @property
    def velocity(self) -> list:
        c = self.speed_factor
        return [-c * ub for ub in self.u]

    @property
    def speed(self) -> float:
        """||v|| in the algorithm's norm (= speed_factor, since ||u|| = 1)."""
        return self.speed_factor if self.gdual > 0 else 0.0


class SteepestField:
    """theta -> FieldEval; one forward and one backward pass per call.

    ``device`` (``proofs_numeric.device.resolve_device``; None = CPU): the field evaluates there, with X, y
    and the model's own tensors moved to it (the parameters passed in must live there too). The late-phase
    linearization (``margins_jacobian``, ``kink_rows``) feeds CPU linear programs, so it runs on the CPU
    copies ``host_fm``, ``host_X``, ``host_y`` (the same objects when the device is the CPU)."""

    def __init__(self, fm, X, y, norm, loss: str = "exp", time: str = "loss", device=None, degree: int | None = None):
        if time not in TIMES:
            raise ValueError(f"time must be one of {TIMES}, got {time!r}")
        self.device = resolve_device(device)
        self.host_fm, self.host_X, self.host_y = fm, X, y
        self.fm, self.X, self.y = model_on(fm, self.device), X.to(self.device), y.to(self.device)
        self.norm, self.loss, self.time, self.degree = norm, loss, time, degree
        self.n_evals = 0
        binary = y.dim() == 1 and y.dtype == torch.float64
        self.ridge_norm = norm.name if (loss == "exp" and binary) else None  # late-phase ridge steps allowed
        # the log-scale frame (flow.scaled): exp loss, binary labels, loss time (flow time t ~ e^(log(1/L)) has no
        # finite clock beyond float64 anyway)
        self.scalable = loss == "exp" and binary and time == "loss"

    def margins_jacobian(self, params):
        """(q, J) as float64 numpy arrays, J_i = grad q_i (n x P, columns like the flattened params): the
        model's closed form when it has ``margins_jacobian``, else autodiff (relu'(0) := 0); on the CPU."""
        params = [p.cpu() for p in params]
        with torch.no_grad():
            if hasattr(self.host_fm, "margins_jacobian"):
                q, J = self.host_fm.margins_jacobian(params, self.host_X, self.host_y)
            else:
                q, J = margins_and_jacobian(self.host_fm, params, self.host_X, self.host_y)
        return q.detach().numpy().astype(float), J.detach().numpy().astype(float)

    @property
    def has_kinks(self) -> bool:
        """True when the model provides Clarke pieces of its kinks (``kink_rows``)."""
        return hasattr(self.host_fm, "kink_rows")

    def kink_rows(self, params, trial, q, J):
        """Cutting planes for the concave ReLU kinks the step params -> trial crosses, as extra (q', J') rows
        (numpy; one per point whose concave units change side: q_i and grad q_i at ``params`` with those
        units on their trial side), or None when the model has no ``kink_rows``. Empty arrays when the trial
        crosses none."""
        if not hasattr(self.host_fm, "kink_rows"):
            return None
        with torch.no_grad():
            qa, Ja, _ = self.host_fm.kink_rows([p.cpu() for p in params], [p.cpu() for p in trial], self.host_X,
                                               self.host_y, torch.from_numpy(q), torch.from_numpy(J))
        return qa.numpy().astype(float), Ja.numpy().astype(float)

    def __call__(self, params, log_scale: float = 0.0) -> FieldEval:
        """The field at theta = e^log_scale params (``flow.scaled``; log_scale = 0: theta = params). FieldEval's
        G, q, gdual, u are the frame's (G_P, q(P)); log_L and log_depth are theta's."""
        self.n_evals += 1
        if log_scale:
            if self.degree is None:
                raise ValueError("SteepestField: a log-scale frame needs the model's homogeneity degree (degree=)")
            lL, depth, G, q = eval_scaled(self.fm, params, self.X, self.y, log_scale, self.degree)
        else:
            (lL, G, q), depth = eval_log_loss(self.fm, params, self.X, self.y, self.loss), None
        kw = {"log_scale": log_scale, "degree": self.degree or 1, "depth": depth}
        if not (math.isfinite(lL) or (depth is not None and math.isfinite(depth))):   # overflowed outputs: rejected
            return FieldEval(lL, G, q, time=self.time, gdual=math.nan, u=[torch.zeros_like(g) for g in G], **kw)
        return FieldEval(lL, G, q, self.norm, self.time, **kw)
