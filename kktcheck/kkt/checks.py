"""Argument checks for kc.residual: every out-of-range option is a ValueError naming the argument.

Defaults and their reasons (docs/kkt.md, "Choosing tol and clarke_radius"):
* DEFAULT_RADIUS = 1e-3: relative radius of the two-layer Clarke band. A pair (i, j) in the band is within
  relative distance 1e-3 (of ||w_j||) of a kink, the resolution at which the verdict tolerance 1e-3 speaks.
* DEFAULT_VERDICT_TOL = 1e-3 for ``KKTResidual.ok`` / the verdict line (the measure is 1/2 at lambda = 0).
* DEFAULT_MAX_SIZE = 2e7 entries of the dense n x P Jacobian (160 MB in float64; the conic solvers copy it
  several times).
* l_p norms with 1 < p < inf are accepted for LP_MIN <= p <= LP_MAX: outside that range cvxpy's rational
  power cones for the dual exponent p / (p - 1) (or p itself) become huge or degenerate.
"""
from __future__ import annotations

import math
import numbers

from ..norms import LpNorm, norm as make_norm

DEFAULT_RADIUS = 1e-3
DEFAULT_VERDICT_TOL = 1e-3
DEFAULT_MAX_SIZE = 20_000_000
LP_MIN, LP_MAX = 1.05, 20.0


def _number(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{name} must be a number, got {v!r}")
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return float(v)


def check_tol(name: str, v, lo: float = 0.0, hi: float = 1.0, hi_open: bool = True) -> float:
    """v as a float in [lo, hi) (or [lo, hi]); ValueError naming ``name`` otherwise (NaN, inf, bool, str)."""
    x = _number(name, v)
    if x < lo or x > hi or (hi_open and x == hi):
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}{')' if hi_open else ']'}, got {v!r}")
    return x


FAMILIES = ("l2", "l1", "linf", "spectral")


def family(nrm) -> str:
    """Which structured formulation applies: "l2", "l1", "linf", "spectral" (max over layers of sigma_max) when
    ``nrm`` equals kc.norm of that name, else "other" (the generic P-dimensional program)."""
    return next((f for f in FAMILIES if nrm == make_norm(f)), "other")


def check_norm(norm):
    """kc.norm(norm), refusing l_p norms too close to 1 or too large for the conic programs."""
    nrm = make_norm(norm)
    if isinstance(nrm, LpNorm) and nrm.p not in (1.0, 2.0, math.inf) and not LP_MIN <= nrm.p <= LP_MAX:
        raise ValueError(f"norm={norm!r}: the KKT programs support lp:P for P in [{LP_MIN}, {LP_MAX}] (and "
                         f"l1, l2, linf exactly); P = {nrm.p:g} makes the dual exponent P/(P-1) = "
                         f"{nrm.p / (nrm.p - 1.0):g} and the power-cone approximation degenerate. Use l1 or "
                         "linf for the limit cases")
    return nrm


def validate(norm, method, clarke, tol, active_tol, max_sdp, clarke_radius, time_limit, max_size):
    """Check every kc.residual option; returns the Norm. Raises ValueError naming the first bad argument."""
    nrm = check_norm(norm)
    if clarke not in ("auto", "autodiff"):
        raise ValueError(f"clarke must be 'auto' or 'autodiff', got {clarke!r}")
    check_tol("tol", tol)
    check_tol("clarke_radius", clarke_radius, 0.0, 0.5, hi_open=False)
    _number("active_tol", active_tol)
    if active_tol < 0:
        raise ValueError(f"active_tol must be >= 0, got {active_tol!r}")
    for name, v in (("max_sdp", max_sdp), ("max_size", max_size)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    if time_limit is not None and (_number("time_limit", time_limit) <= 0):
        raise ValueError(f"time_limit must be a positive number of seconds (or None), got {time_limit!r}")
    return nrm
