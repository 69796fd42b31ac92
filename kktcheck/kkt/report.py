"""Text of a KKTResidual: verdict line first, then the multipliers, then what the numbers mean.

Verdict logic (tol: the verdict tolerance on the measure; the measure is always the value of a certificate,
hence an upper bound of the exact minimum):
* measure <= tol                                        -> "approximately KKT" (whatever produced the certificate);
* measure > tol and the program solved to optimality    -> "not KKT" (the minimum itself exceeds tol);
* a certified lower bound of the minimum (weak duality: kkt/fy_dual.py for l2 / l1 / linf, kkt/spectral_dual.py
  for spectral) exceeds tol -> "not KKT", whatever the status (a time limit can leave a valid bound); the
  certified interval [lower, upper] is shown;
* otherwise (refused, time limit, solver error, inaccurate) -> "could not decide: <reason>".
Solver words (status) appear only in the last, technical line.
"""
from __future__ import annotations

import math

import numpy as np

_REASONS = {"too_large": "problem too large", "time_limit": "time limit", "solver_error": "solver error",
            "optimal_inaccurate": "solver inaccurate", "not_run": "program not run",
            "approximate": "certified gap of the first-order spectral solver above its tolerance"}


def verdict_line(res, tol: float) -> str:
    m = res.measure
    src = "" if res.measure_source == "program" else " (closed-form A.13 upper bound)"
    if math.isfinite(m) and m <= tol:
        return f"approximately KKT: measure {m:.3g} <= tol {tol:.3g}{src}"
    if res.status == "optimal" and res.measure_source == "program":
        return f"not KKT: measure {m:.3g} > tol {tol:.3g}"
    lower = res.measure_lower
    if math.isfinite(lower) and lower > tol:  # a certified lower bound decides even without optimality
        return f"not KKT: measure in [{lower:.3g}, {m:.3g}] (certified), above tol {tol:.3g} ({res.status})"
    reason = _REASONS.get(res.status, f"solver status {res.status}")
    if res.status == "optimal":
        reason = "the program's certificate was worse than the closed-form bound"
    return f"could not decide: {reason}; upper bound {m:.3g} > tol {tol:.3g}{src}"


def multipliers_line(res) -> str:
    lam = res.measure_multipliers
    if lam is None or len(lam) == 0:
        return "multipliers: none"
    lam = np.asarray(lam, dtype=np.float64)
    top = float(lam.max())
    support = int((lam > 1e-9 * top).sum()) if top > 0 else 0
    rho = res.theta_norm
    mass = float(lam.sum()) * res.degree / rho ** 2 if rho > 0 else math.nan
    return (f"multipliers: support {support} of {len(lam)} samples, largest lambda_{int(lam.argmax())} = {top:.4g}, "
            f"L sum(lambda) / ||theta~||^2 = {mass:.4g} (1 at a KKT point)")


def render(res, tol: float | None = None) -> str:
    from .checks import DEFAULT_VERDICT_TOL
    tol = DEFAULT_VERDICT_TOL if tol is None else tol
    s = res.summary()
    f = lambda v: "nan" if not isinstance(v, float) or not math.isfinite(v) else f"{v:.3e}"  # noqa: E731
    lines = [res.verdict(tol), multipliers_line(res),
             f"KKT measure of (MM) in norm {s['norm']}, degree L = {s['degree']}: min over lambda >= 0 and k_i in "
             f"the Clarke band (radius {s['clarke_radius']:g}) of max(FY / ||theta~||^2, L sum lambda_i (q_i - 1) / "
             "||theta~||^2), FY = Fenchel-Young gap of sum lambda_i k_i; 0 exactly at KKT points, 1/2 at lambda = 0",
             f"  FY term {f(s['measure_fy'])}, complementarity term {f(s['measure_complementarity'])}, source "
             f"{s['measure_source']}; certified lower bound {f(s['measure_lower'])}; "
             f"A.13 bound {f(s['measure_bound'])} (1 - beta = "
             f"{f(1.0 - s['beta'] if isinstance(s['beta'], float) else math.nan)})",
             f"(eps, delta) pair with near-tie tolerance {s['tol']:g}:"]
    for k in ("stationarity", "stationarity_rel", "complementarity", "complementarity_rel",
              "primal_feasibility", "dual_feasibility", "objective"):
        lines.append(f"  {k:<20} {f(s[k])}")
    lines.append(f"  active set           {len(s['active_set'])} of {s['n_samples']} samples")
    msg = "; ".join(m for m in (s["message"], s["pair_message"] if s["pair_message"] != s["message"] else "") if m)
    lines.append(f"solver: measure program {s['status']} ({f(s['measure_time'])} s), pair program {s['pair_status']} "
                 f"({f(s['solve_time'])} s); clarke {s['clarke']}; method {s['method']}" + (f"; {msg}" if msg else ""))
    return "\n".join(lines)
