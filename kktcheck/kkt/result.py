"""KKTResidual: the named residuals of (MM) at theta_tilde and the certificate behind them.

Certificate: multipliers lambda (n,), the objective subgradient h in d(1/2||theta_tilde||^2) and the
constraint subgradients k_i in Clarke d q_i(theta_tilde) (rows of ``k``, flattened like params.flatten).
``verify()`` recomputes the residuals from the certificate with numpy alone (no solver).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..norms import BlockNorm, LpNorm
from ..norms.matrix import NuclearMatrix, SpectralMatrix


def _mat(b: np.ndarray) -> np.ndarray:
    return b.reshape(1, -1) if b.ndim <= 1 else b.reshape(b.shape[0], -1)


def np_norm(nrm, bl: list[np.ndarray]) -> float:
    """Value of ``nrm`` on numpy blocks (lp, Schatten, block norms); other Norms fall back to their own value."""
    if isinstance(nrm, LpNorm):
        v = np.concatenate([b.reshape(-1) for b in bl])
        p = nrm.p
        if math.isinf(p):
            return float(np.abs(v).max())
        if p == 1:
            return float(np.abs(v).sum())
        m = np.abs(v).max()
        return float(m * ((np.abs(v) / m) ** p).sum() ** (1 / p)) if m > 0 else 0.0
    if isinstance(nrm, SpectralMatrix):
        return float(np.linalg.norm(_mat(bl[0]), 2))
    if isinstance(nrm, NuclearMatrix):
        return float(np.linalg.norm(_mat(bl[0]), "nuc"))
    if isinstance(nrm, BlockNorm):
        norms = list(nrm.norms) if isinstance(nrm.norms, (list, tuple)) else [nrm.norms] * len(bl)
        c = nrm.scales or [1.0] * len(bl)
        vals = [np_norm(n, [b]) for n, b in zip(norms, bl)]
        return max(v / cl for v, cl in zip(vals, c)) if nrm.combine == "max" else sum(v * cl for v, cl in zip(vals, c))
    import torch
    return float(nrm([torch.from_numpy(b) for b in bl]))


def np_dual_norm(nrm, bl: list[np.ndarray]) -> float:
    """Dual norm ||g||_* on numpy blocks."""
    return np_norm(nrm.dual_norm, bl)


def split(vec: np.ndarray, shapes) -> list[np.ndarray]:
    out, s = [], 0
    for sh in shapes:
        n = int(np.prod(sh))
        out.append(vec[s:s + n].reshape(sh))
        s += n
    return out


@dataclass
class KKTResidual:
    """Named KKT residuals of (MM) min 1/2||theta||^2 s.t. q_i >= 1 at theta_tilde = theta / q_min^{1/L}.

    stationarity       eps = ||h - sum_i lambda_i k_i||_*            (dual norm of ``norm``)
    stationarity_rel   eps / ||theta_tilde||
    complementarity    delta = sum_i lambda_i (q_i - 1)             (q_i = q_i(theta_tilde) >= 1)
    complementarity_rel delta * L / ||theta_tilde||^2   (sum lambda_i = ||theta_tilde||^2 / L at a KKT point)
    primal_feasibility max(0, max_i (1 - q_i))    (0 up to rounding: theta_tilde is feasible by construction)
    dual_feasibility   max(0, -min_i lambda_i)
    objective          the minimized scalar max(stationarity_rel, complementarity_rel)
    """

    norm: str
    degree: int
    status: str
    message: str = ""
    stationarity: float = math.nan
    stationarity_rel: float = math.nan
    complementarity: float = math.nan
    complementarity_rel: float = math.nan
    primal_feasibility: float = math.nan
    dual_feasibility: float = math.nan
    objective: float = math.nan
    multipliers: np.ndarray | None = None
    active_set: np.ndarray | None = None
    q: np.ndarray | None = None
    theta_tilde: list = field(default_factory=list)
    scale: float = math.nan
    theta_norm: float = math.nan
    h: list = field(default_factory=list)
    k: np.ndarray | None = None
    clarke: str = "autodiff"
    method: str = "generic"
    tol: float = math.nan
    solve_time: float = math.nan
    _norm_obj: object = field(default=None, repr=False)

    @property
    def lambdas(self):
        return self.multipliers

    def ok(self, tol: float = 1e-6) -> bool:
        """True when the solve succeeded and every named residual (relative ones for eps, delta) is <= tol."""
        if not self.status.startswith("optimal"):
            return False
        vals = (self.stationarity_rel, self.complementarity_rel, self.primal_feasibility, self.dual_feasibility)
        return all(math.isfinite(v) and v <= tol for v in vals)

    def verify(self) -> dict:
        """Recompute eps, delta (and their relative forms) from the certificate with numpy only."""
        if self.multipliers is None:
            raise ValueError(f"no certificate to verify (status {self.status!r}: {self.message})")
        lam = np.asarray(self.multipliers, dtype=np.float64)
        shapes = [b.shape for b in self.theta_tilde]
        hv = np.concatenate([np.asarray(b).reshape(-1) for b in self.h])
        r = hv - self.k.T @ lam
        eps = np_dual_norm(self._norm_obj, split(r, shapes))
        delta = float(lam @ (self.q - 1.0))
        rho = np_norm(self._norm_obj, self.theta_tilde)
        return {"stationarity": eps, "complementarity": delta, "stationarity_rel": eps / rho,
                "complementarity_rel": delta * self.degree / rho ** 2,
                "dual_feasibility": max(0.0, -float(lam.min())), "primal_feasibility": max(0.0, float((1 - self.q).max()))}

    def summary(self) -> dict:
        """The named residuals and metadata as plain Python values (JSON-ready)."""
        keys = ("norm", "degree", "status", "message", "stationarity", "stationarity_rel", "complementarity",
                "complementarity_rel", "primal_feasibility", "dual_feasibility", "objective", "clarke", "method",
                "tol", "solve_time", "scale", "theta_norm")
        out = {k: getattr(self, k) for k in keys}
        out["active_set"] = [] if self.active_set is None else [int(i) for i in self.active_set]
        out["multipliers"] = [] if self.multipliers is None else [float(v) for v in self.multipliers]
        out["n_samples"] = 0 if self.q is None else int(len(self.q))
        return out

    def __str__(self) -> str:
        s = self.summary()
        lines = [f"KKT residual of (MM), norm {s['norm']}, degree L = {s['degree']}, status {s['status']}"
                 + (f" ({s['message']})" if s['message'] else "")]
        for k in ("stationarity", "stationarity_rel", "complementarity", "complementarity_rel",
                  "primal_feasibility", "dual_feasibility", "objective"):
            lines.append(f"  {k:<20} {s[k]:.3e}")
        lines.append(f"  active set           {len(s['active_set'])} of {s['n_samples']} samples")
        lines.append(f"  clarke treatment     {s['clarke']}; method {s['method']}; tol {s['tol']:g}; "
                     f"solve time {s['solve_time']:.3f} s")
        return "\n".join(lines)
