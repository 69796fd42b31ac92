"""KKTResidual: the KKT measure of (MM) at theta_tilde, its verdict, the (eps, delta) pair and certificates.

Headline: ``measure`` (kkt/fy.py), the Fenchel-Young measure min max(FY / rho^2, L (q-1).lambda / rho^2),
continuous in theta and 0 exactly at KKT points; ``verdict(tol)`` / ``ok(tol)`` use it. ``measure_source``
says whether it came from the convex program ("program") or from the closed-form A.13 upper bound
("a13-bound", when the program was refused, failed or ran out of time). Both are values of a certificate
(lambda, u), so the reported measure is always an upper bound of the exact minimum.

Beside it, the (eps, delta) pair: multipliers lambda (n,), the objective subgradient h in
d(1/2||theta_tilde||^2) (near-tie tolerance ``tol``) and the constraint subgradients k_i (rows of ``k``,
flattened like params.flatten). ``verify()`` recomputes them from the certificate with numpy alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .checks import DEFAULT_VERDICT_TOL


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

    measure            min over lambda >= 0, k_i in the Clarke band of max(FY / rho^2, L (q - 1).lambda / rho^2)
                       (upper bound from a certificate; the minimum to solver accuracy when status "optimal")
    measure_fy, measure_complementarity   its two terms; measure_bound: the closed-form A.13 bound;
    measure_lower      certified lower bound of the minimum (weak duality: kkt/fy_dual.py for the l2 / l1 / linf
                       working set, kkt/spectral_dual.py for the first-order spectral path; NaN otherwise):
                       measure - measure_lower is the certified gap
    beta               alignment <theta / ||theta||, -g / ||g||_*> of the exp-loss gradient (1 - beta = FY / rho^2
                       at the A.13 multipliers)
    status             solver status of the measure program (``solver_status``); ``pair_status`` of the pair's
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
    measure: float = math.nan
    measure_source: str = "none"
    measure_fy: float = math.nan
    measure_complementarity: float = math.nan
    measure_bound: float = math.nan
    a13_value: float = math.nan
    beta: float = math.nan
    measure_multipliers: np.ndarray | None = None
    measure_u: np.ndarray | None = None
    measure_time: float = math.nan
    measure_lower: float = math.nan
    clarke_radius: float = math.nan
    pair_status: str = "not_run"
    pair_message: str = ""
    _bound_lam: np.ndarray | None = field(default=None, repr=False)
    _norm_obj: object = field(default=None, repr=False)

    @property
    def lambdas(self):
        return self.multipliers

    @property
    def solver_status(self) -> str:
        """The measure program's solver status (cvxpy's words, or too_large / time_limit / solver_error)."""
        return self.status

    def ok(self, tol: float = DEFAULT_VERDICT_TOL) -> bool:
        """True when the KKT measure (an upper bound from a certificate) is <= tol: approximately KKT."""
        return math.isfinite(self.measure) and self.measure <= tol

    def verdict(self, tol: float = DEFAULT_VERDICT_TOL) -> str:
        """One line: "approximately KKT: ...", "not KKT: ..." or "could not decide: <reason>" (kkt/report.py)."""
        from .report import verdict_line
        return verdict_line(self, tol)

    def set_bound(self, b: dict) -> None:
        """Record the closed-form A.13 bound; it is the reported measure until a program certificate beats it."""
        self.measure_bound, self.a13_value, self.beta, self._bound_lam = b["bound"], b["a13_value"], b["beta"], b["lam"]
        self._use_bound()

    def _use_bound(self) -> None:
        self.measure, self.measure_source = self.measure_bound, "a13-bound"
        self.measure_multipliers = self._bound_lam
        self.measure_fy = self.measure_complementarity = math.nan

    def refuse(self, status: str, message: str) -> None:
        self.status, self.message = status, message
        self.pair_status, self.pair_message = status, message

    def set_measure(self, out: dict, elapsed: float) -> None:
        """Take the measure program's result: its certificate's value (numpy) when it beats the A.13 bound."""
        from .fy import evaluate
        self.status, self.message, self.measure_time = out["status"], out.get("message", ""), elapsed
        self.measure_lower = out.get("certified_lower", math.nan)
        if "lam" not in out:
            self.message = self.message or f"cvxpy status {out['status']}"
            return
        ev = evaluate(self._norm_obj, self.theta_tilde, self.q, self.degree, out["u"], out["lam"])
        # the program's certificate wins unless the bound beats it by more than the solver precision
        if ev["measure"] <= self.measure_bound + 1e-8 or not math.isfinite(self.measure_bound):
            self.measure, self.measure_source = ev["measure"], "program"
            self.measure_fy, self.measure_complementarity = ev["fy_rel"], ev["complementarity_rel"]
            self.measure_multipliers, self.measure_u = out["lam"], out["u"]

    def verify(self) -> dict:
        """Recompute eps, delta (and their relative forms) from the certificate alone (numpy sums, the Norm's value)."""
        if self.multipliers is None:
            raise ValueError(f"no certificate to verify (status {self.pair_status!r}: {self.pair_message})")
        lam = np.asarray(self.multipliers, dtype=np.float64)
        shapes = [b.shape for b in self.theta_tilde]
        hv = np.concatenate([np.asarray(b).reshape(-1) for b in self.h])
        r = hv - self.k.T @ lam
        eps = self._norm_obj.dual(split(r, shapes))
        delta = float(lam @ (self.q - 1.0))
        rho = self._norm_obj(self.theta_tilde)
        return {"stationarity": eps, "complementarity": delta, "stationarity_rel": eps / rho,
                "complementarity_rel": delta * self.degree / rho ** 2,
                "dual_feasibility": max(0.0, -float(lam.min())), "primal_feasibility": max(0.0, float((1 - self.q).max()))}

    def summary(self) -> dict:
        """The named residuals and metadata as plain Python values (JSON-ready)."""
        keys = ("norm", "degree", "measure", "measure_source", "measure_lower", "measure_fy", "measure_complementarity",
                "measure_bound", "a13_value", "beta", "status", "message", "pair_status", "pair_message",
                "stationarity", "stationarity_rel", "complementarity",
                "complementarity_rel", "primal_feasibility", "dual_feasibility", "objective", "clarke", "method",
                "tol", "clarke_radius", "solve_time", "measure_time", "scale", "theta_norm")
        out = {k: getattr(self, k) for k in keys}
        out["verdict"] = self.verdict()
        lam = self.measure_multipliers
        out["measure_multipliers"] = [] if lam is None else [float(v) for v in lam]
        out["active_set"] = [] if self.active_set is None else [int(i) for i in self.active_set]
        out["multipliers"] = [] if self.multipliers is None else [float(v) for v in self.multipliers]
        out["n_samples"] = 0 if self.q is None else int(len(self.q))
        return out

    def __str__(self) -> str:
        from .report import render
        return render(self)
