"""The solution object of ``flow.integrate``: recorded quantities along a steepest-flow run.

All arrays are numpy float64 with one entry per recorded point (``save_every`` steps plus the last).
Times: ``s`` is loss-normalized time (ds = L dt, the same curve as the flow in t);
``log_t`` is log of the flow's own time t (t itself overflows in the late phase), -inf at t = 0, +inf once
log(1/L) is beyond float64. Depth beyond float64 (the late phase's log-scale frame theta = 2^e P, ``flow.scaled``):
``log_theta_norm``, ``log_depth`` = log log(1/L) and ``log_s`` stay finite where ``theta_norm``, ``log_loss`` and
``s`` read +-inf; margins and soft margins are normalized and finite at every depth.
Margins are normalized by ||theta||^L in the named norm; ``margin``/``soft_margin`` use the
algorithm's norm. ``alignment`` is beta = <theta/||theta||, -g/||g||_*> (Theorem 3.1: d/dt log of the soft margin >= L (||g||_*/||theta||)(1/beta - 1) >= 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from kktcheck import norm as make_norm

STATUSES = ("success", "max_steps", "max_seconds", "not_separated", "diverged", "stalled")


@dataclass
class Trajectory:
    norm: str                       # the algorithm's norm name
    loss: str                       # "exp" | "logistic" | "ce"
    degree: int                     # homogeneity degree L
    steps: np.ndarray               # solver step index of each record
    s: np.ndarray                   # loss-normalized time
    log_t: np.ndarray               # log of flow time t
    log_loss: np.ndarray            # natural log of L(theta)
    theta_norm: np.ndarray          # ||theta|| in the algorithm's norm
    margin: np.ndarray              # hard margin, algorithm's norm
    soft_margin: np.ndarray         # soft margin, algorithm's norm
    margins: dict = field(default_factory=dict)       # norm name -> hard margin array (l1, l2, linf, own)
    soft_margins: dict = field(default_factory=dict)  # norm name -> soft margin array
    alignment: np.ndarray = None    # beta(t)
    train_accuracy: np.ndarray = None
    snapshots: list = field(default_factory=list)     # list of (record index, list of tensors)
    params: list = None             # final parameters theta_T (list of float64 tensors); None beyond float64
    status: str = "success"
    message: str = ""
    t0_index: int | None = None     # first record with L < l(0) (soft margin positive), None if never
    info: dict = field(default_factory=dict)          # solver name, order, step rule, wall time, ...
    log_theta_norm: np.ndarray = None   # log ||theta|| (finite where ||theta|| passes float64; theta_norm is inf)
    log_depth: np.ndarray = None        # log log(1/L) (nan before L < 1; finite where log L is beyond float64)
    log_s: np.ndarray = None            # log of the loss time s (finite where s passes float64)
    frame_params: list = None           # P with theta_T = 2^frame_exponent P (the late phase's log-scale frame)
    frame_exponent: int = 0

    @property
    def ok(self) -> bool:
        return self.status in ("success", "max_steps", "max_seconds")

    @property
    def log10_loss(self) -> np.ndarray:
        return self.log_loss / np.log(10.0)

    @property
    def log_norm(self) -> float:
        """log ||theta_T|| of the final parameters in the algorithm's norm (``Norm.log_value`` of the frame P plus
        frame_exponent log 2 when theta_T is beyond float64: exact also when ||theta_T|| itself is beyond float64)."""
        frame, exponent = (self.params, 0) if self.params is not None else (self.frame_params, self.frame_exponent)
        return make_norm(self.norm).log_value(frame) + exponent * math.log(2.0)

    @property
    def direction(self) -> list:
        """The final unit direction theta_T / ||theta_T|| (algorithm's norm) as a list of float64 tensors: the
        limit direction the theorems speak of, computed from theta_T / max_j |theta_T,j| (or the frame's P when theta_T is beyond float64; exact at every scale)."""
        frame = self.params if self.params is not None else self.frame_params
        scale = max((float(p.abs().max()) for p in frame if p.numel()), default=0.0)
        if not scale > 0:
            raise ValueError("theta_T = 0 has no direction (the run ended at the origin)")
        scaled = [p / scale for p in frame]
        r = float(make_norm(self.norm)(scaled))
        return [p / r for p in scaled]

    def after_separation(self, name: str = "soft_margin") -> np.ndarray:
        """The named array restricted to records from t0 on (empty if the data were never fitted)."""
        arr = getattr(self, name)
        return arr[self.t0_index:] if self.t0_index is not None else arr[:0]

