"""Checks of the late-phase integrator (``flow.RidgeStep``): it follows one flow, and that flow reaches the
limit the theorems speak of.

* ``check_ridge_order``: the final unit direction phi_h = theta/||theta|| at a fixed depth log L <= T, for
  relative steps h in ``hs``, against the same run at a much smaller step h_ref. Measured: the fitted slope
  of log ||phi_h - phi_ref|| (algorithm's norm) against log h. A consistent first-order scheme has slope
  about 1; the check passes at slope >= 0.7. Negative control: the explicit ``RelativeStep(h)`` (the old
  default), whose chattering path does not converge to the same direction as h shrinks (slope about 0).
* ``check_gunasekar_ridge``: on linearly separable data (linear model, L = 1, (MM) convex) the flow's
  normalized hard margin min_i y_i <w, x_i> / ||w|| at log10 L <= -1e4 is within ``rtol`` (relative) of the
  exact max-margin max_{||w|| <= 1} min_i y_i <w, x_i> from ``kktcheck.max_margin_linear``. Negative
  control: the same run's margin measured in another norm against that norm's exact max-margin.
* ``check_ridge_drawdown``: Theorem 3.1 says the flow's soft margin l^{-1}(L)/||theta||^L (algorithm's norm)
  never decreases after L < 1; a discrete run shows a drawdown max_{i<j} (soft_i - soft_j)/soft_i, measured over
  the late phase log(1/L) >= 10/L (where every run, whatever h, takes ridge steps). For the ridge integrator it
  must shrink with h (fitted order >= 0.5, over h = 0.1, 0.05, 0.025 [, 0.0125]) or be 0 at every h, on ReLU
  nets where the late phase crosses ties (linf, l2: ``separated_case`` to log10 L = -1e3) and kinks (l1,
  coordinate descent: ``kinked_case`` to log10 L = -100; with the kink cuts its drawdown is 0 at every h).
  Negative control: the explicit ``RelativeStep(h)``, whose drawdown stays at 0.17-0.28 (linf) or 0.03-0.05
  (l1) whatever h.
* ``check_owner_at_depth``: GD (l2), sign descent (linf) and coordinate descent (l1) from one initialization
  of ``kinked_case`` (2-layer ReLU, teacher-student), each run by the default integrator to log10 L = -1e5:
  at each depth log10 L = -1e3, -1e4, -1e5 the algorithm owning a norm has the largest normalized hard
  margin min_i q_i / ||theta||^L in it. Measured: the smallest ratio (owner's margin) / (best other
  algorithm's margin) over norms and depths; passes above 1. Negative control: the same ratio with the
  owners rotated (l2's margin credited to sign descent, and so on), which must fall below 1.
* ``check_beyond_float64``: Lemma A.6 (log L -> -inf, ||theta|| -> inf) past float64's range: the default
  integrator runs to log log(1/L) >= ``log_depth`` (1500: log10 L ~ -10^651) in its log-scale frame theta = 2^e P.
  Measured: the log log(1/L) reached (must reach ``log_depth``), with log ||theta_T|| > log(1.8e308) = 709.78,
  every recorded log-scale number finite after the fit (log ||theta||, log log(1/L), log s, the hard and soft margins) and the growth of Lemma A.6 in
  logs, L log ||theta|| >= log log(1/L) - log(max_i margin). Negative control: the same rule with ``frame=False``
  (theta in plain float64), which stalls where log L leaves float64.
"""
from __future__ import annotations

import math
from functools import lru_cache

import kktcheck as kc
import torch

from ..flow import RelativeStep, RidgeStep, integrate
from ..flow.cases import kinked_case, linear_case, separated_case
from ..results import describe_case, reached_text
from .flow_checks import fit_order, max_drawdown
from .result import CheckResult


def _direction(tr, nrm):
    p = tr.params
    return torch.cat([x.reshape(-1) for x in p]) / nrm(p)


def _case_for(norm):
    return separated_case(0) if norm == "l2" else linear_case(0)


def check_ridge_order(norm="linf", *, hs=(0.16, 0.08, 0.04), h_ref=0.005, T=-1000.0, control=False,
                      min_order=0.7) -> CheckResult:
    """Self-convergence order of the ridge integrator's direction at log L = T (see the module docstring)."""
    model, th, data = _case_for(norm)
    nrm = kc.norm(norm)
    ref = integrate(model, th, data, norm=norm, step=RidgeStep(h_ref), target_log_loss=T, margin_norms=())
    rule = RelativeStep if control else RidgeStep
    errs, depth = [], []
    for h in hs:
        tr = integrate(model, th, data, norm=norm, step=rule(h), target_log_loss=T, margin_norms=(),
                       max_steps=200_000)
        depth.append(float(tr.log_loss[-1]))
        errs.append(float(nrm([_direction(tr, nrm) - _direction(ref, nrm)])) if tr.status == "success" else math.nan)
    order = fit_order(hs, errs)
    ok = ref.status == "success" and all(math.isfinite(e) for e in errs) and order >= min_order
    name = f"ridge-order-{nrm.name}" + ("-explicit-relative-step" if control else "")
    rule_name = "RelativeStep(h)" if control else "RidgeStep(h)"
    case = describe_case(model, data, data_name="separable data", algorithm=f"{nrm.name} steepest flow",
                         norm=nrm.name, step=f"{rule_name}, h in {list(hs)}; reference RidgeStep({h_ref})",
                         reached=reached_text(ref))
    return CheckResult(name, "the late-phase integrator converges to one flow as the relative step h shrinks "
                       "(first order)", order, min_order, ok, comparison=">=",
                       detail={"hs": list(hs), "errors": errs, "h_ref": h_ref, "target_log_loss": T,
                               "final_log_loss": depth, "reference_margin": float(ref.margin[-1])},
                       negative_control=control, case=case,
                       definition=(f"fitted slope of log ||phi_h - phi_ref|| against log h, phi = theta/||theta||_"
                                   f"{nrm.name} at the first step with log L <= {T:g}"),
                       changed="explicit RelativeStep(h) (the old default) instead of RidgeStep(h)" if control else "")


def check_gunasekar_ridge(norm="linf", *, measure_norm=None, rtol=1e-3, log10_target=-1e4) -> CheckResult:
    """Linear model, default integrator to log10 L <= log10_target: margin within rtol of the exact optimum."""
    model, th, data = linear_case(0)
    mn = kc.norm(measure_norm or norm)
    tr = integrate(model, th, data, norm=norm, target_log_loss=log10_target * math.log(10),
                   margin_norms=(mn,), max_seconds=120)
    opt = kc.max_margin_linear(data[0].numpy(), data[1].numpy(), norm=mn.name)
    got = float(tr.margins[mn.name][-1])
    err = abs(got - opt.margin) / opt.margin
    ok = tr.status == "success" and math.isfinite(err) and err <= rtol
    case = describe_case(model, data, data_name="linearly separable data", algorithm=f"{tr.norm} steepest flow",
                         norm=tr.norm, step=tr.info["step_rule"], reached=reached_text(tr))
    return CheckResult(f"gunasekar-deep-{tr.norm}" + (f"-measured-{mn.name}" if measure_norm else ""),
                       "deep flow margin (log10 L <= -1e4) within 1e-3 of the exact max-margin in the "
                       "algorithm's norm", err, rtol, ok,
                       detail={"flow_margin": got, "optimal_margin": float(opt.margin),
                               "final_log10_loss": float(tr.log10_loss[-1]), "steps": tr.info["steps"],
                               "ridge_steps": tr.info["ridge_steps"], "status": tr.status},
                       negative_control=mn != kc.norm(norm), case=case,
                       definition=(f"|gamma_{mn.name}(w_T) - gamma*_{mn.name}| / gamma*_{mn.name}, gamma = min_i "
                                   f"y_i <w, x_i> / ||w||_{mn.name}, gamma* from kc.max_margin_linear"),
                       changed=f"margin measured in {mn.name}, not the algorithm's {tr.norm}" if measure_norm else "")


DRAWDOWN_CASES = {"l1": (kinked_case, -100.0, (0.1, 0.05, 0.025)), "l2": (separated_case, -1e3, (0.1, 0.05, 0.025)),
                  "linf": (separated_case, -1e3, (0.1, 0.05, 0.025, 0.0125))}


LATE_STIFFNESS = RidgeStep().stiffness


def late_window(tr, degree):
    """Indices of the records in the late phase: log(1/L) >= s*/L (s* = RidgeStep's default stiffness, L the
    degree). There L q_min >= s* (q_min >= log(1/L) since L >= exp(-q_min)), so every run, whatever its h,
    is in the ridge regime; the window does not depend on h."""
    return (-tr.log_loss >= LATE_STIFFNESS / degree).nonzero()[0]


DRAWDOWN_RESOLUTION = 1e-12   # relative drawdowns below this are rounding of the recorded soft margins


def shrink_order(hs, downs) -> float:
    """Order p of drawdown ~ h^p over hs: the least-squares slope of log max(drawdown, 1e-12) against log h (a
    drawdown that vanished from some h on counts at the resolution 1e-12, so vanishing gives a large order)."""
    return fit_order(hs, [max(float(x), DRAWDOWN_RESOLUTION) for x in downs])


def _drawdown_verdict(hs, downs, min_order, norm, log10_T):
    """(measured, threshold, comparison, passed, definition). When some late-phase drawdown exceeds the rounding
    level: the fitted order (``shrink_order``) >= min_order. When none does at any h, the discrete path's soft
    margin never decreased in the late phase (Theorem 3.1 holds on it exactly, there is no error left to
    shrink): the largest drawdown <= 1e-12."""
    window = (f"the soft margin l^-1(L)/||theta||_{norm}^L over the late phase (log(1/L) >= {LATE_STIFFNESS:g}/L) "
              f"down to log10 L = {log10_T:g}")
    if all(float(d) <= DRAWDOWN_RESOLUTION for d in downs):
        worst = max(float(d) for d in downs)
        return worst, DRAWDOWN_RESOLUTION, "<=", True, f"largest relative drawdown of {window}, over every h"
    order = shrink_order(hs, downs)
    return order, min_order, ">=", order >= min_order, (
        f"fitted order p of the largest relative drawdown of {window} (drawdown ~ h^p; a drawdown of 0 counts "
        "as 1e-12, the rounding level)")


def check_ridge_drawdown(norm="linf", *, hs=None, control=False, min_order=0.5) -> CheckResult:
    """The late-phase soft-margin drawdown shrinks with h, or there is none at any h (see the module docstring;
    linf uses four steps down to 0.0125: its drawdown is a max over a chattering path, noisy at three). The
    window is the late phase (``late_window``); the drawdown after L < 1, which includes the explicit steps
    before it, is reported in the detail (``drawdown_after_fit``)."""
    make_case, log10_T, default_hs = DRAWDOWN_CASES[norm]
    hs = default_hs if hs is None else hs
    model, th, data = make_case(0)
    rule = RelativeStep if control else RidgeStep
    downs, after_fit, evidence, tr = [], [], True, None
    for h in hs:
        tr = integrate(model, th, data, norm=norm, step=rule(h), target_log_loss=log10_T * math.log(10),
                       margin_norms=(), max_seconds=60)
        late = tr.soft_margin[late_window(tr, model.degree)]
        evidence &= tr.status == "success" and late.size >= 3 and bool(torch.isfinite(torch.from_numpy(late)).all())
        downs.append(max_drawdown(late) if late.size else math.nan)
        after_fit.append(max_drawdown(tr.after_separation("soft_margin")))
    measured, threshold, comparison, ok, definition = _drawdown_verdict(hs, downs, min_order, norm, log10_T)
    name = f"ridge-drawdown-{norm}" + ("-explicit-relative-step" if control else "")
    rule_name = "RelativeStep(h)" if control else "RidgeStep(h)"
    case = describe_case(model, data, data_name="teacher-student data" if norm == "l1" else "separable data",
                         algorithm=f"{norm} steepest flow", norm=norm, step=f"{rule_name}, h in {list(hs)}",
                         reached=reached_text(tr))
    return CheckResult(name, "Theorem 3.1 in the late phase: the soft-margin drawdown of the discrete run "
                       "shrinks with h (or is 0 at every h)", measured, threshold, evidence and ok,
                       comparison=comparison, negative_control=control, evidence=evidence, case=case,
                       detail={"hs": list(hs), "max_drawdown": downs, "drawdown_after_fit": after_fit,
                               "target_log10_loss": log10_T}, definition=definition,
                       changed="explicit RelativeStep(h) (the old default) instead of RidgeStep(h)" if control else "")


OWNERS = {"l2": "GD", "linf": "sign descent", "l1": "coordinate descent"}


def _margins_at(tr, log10_depths):
    """{depth: {norm: hard margin}} at the first record with log10 L <= depth (None when never reached)."""
    out = {}
    for d in log10_depths:
        hit = (tr.log10_loss <= d).nonzero()[0]
        out[d] = {k: float(v[hit[0]]) for k, v in tr.margins.items()} if hit.size else None
    return out


@lru_cache(maxsize=8)
def _owner_runs(norms, depths, max_seconds):
    """One default-integrator run per algorithm on ``kinked_case``, shared by the check and its control:
    ({algorithm norm: margins at each depth}, {algorithm norm: how far the run got})."""
    model, th, data = kinked_case(0)
    at, steps = {}, {}
    for nm in norms:
        tr = integrate(model, th, data, norm=nm, target_log_loss=min(depths) * math.log(10), margin_norms=norms,
                       max_seconds=max_seconds)
        at[nm], steps[nm] = _margins_at(tr, depths), reached_text(tr)
    return at, steps


def check_owner_at_depth(norms=("l2", "linf", "l1"), *, depths=(-1e3, -1e4, -1e5), control=False,
                         max_seconds=120.0) -> CheckResult:
    """The owner of each norm has the largest margin in it at every depth (see the module docstring)."""
    model, th, data = kinked_case(0)
    at, steps = _owner_runs(tuple(norms), tuple(depths), max_seconds)
    credited = {nm: norms[(i + 1) % len(norms)] for i, nm in enumerate(norms)} if control else {nm: nm for nm in norms}
    ratios, evidence = {}, all(at[a][d] is not None for a in norms for d in depths)
    for d in depths if evidence else ():
        for nm in norms:
            own = at[credited[nm]][d][nm]
            best_other = max(at[a][d][nm] for a in norms if a != credited[nm])
            ratios[f"{nm}@{d:g}"] = own / best_other if best_other > 0 else math.nan
    worst = min(ratios.values()) if ratios else math.nan
    ok = evidence and math.isfinite(worst) and worst > 1.0
    who = ", ".join(f"{OWNERS[credited[nm]]} for {nm}" for nm in norms)
    case = describe_case(model, data, data_name="teacher-student data", algorithm=", ".join(OWNERS[n] for n in norms),
                         norm="/".join(norms), step="default (RidgeStep(0.05))", reached="; ".join(steps.values()))
    return CheckResult("owner-wins-at-depth" + ("-rotated-owners" if control else ""),
                       "each algorithm has the largest margin in its own norm, down to log10 L = "
                       f"{min(depths):g}", worst, 1.0, ok, comparison=">",
                       detail={"ratios": ratios, "margins": {a: {str(d): v for d, v in at[a].items()} for a in norms},
                               "credited": who}, negative_control=control, evidence=evidence, case=case,
                       definition=("min over norms and depths of gamma_norm(owner) / max over the other algorithms "
                                   "of gamma_norm, gamma = min_i q_i / ||theta||^L at the first step with log10 L <= "
                                   "the depth; owners: " + who),
                       changed="owners rotated: each norm credited to an algorithm that does not own it" if control else "")


__all__ = ["check_ridge_order", "check_gunasekar_ridge", "check_ridge_drawdown", "check_owner_at_depth"]


LOG_FLOAT_MAX = math.log(1.7976931348623157e308)


def check_beyond_float64(norm="l2", *, case="linear", log_depth=1500.0, control=False,
                         max_seconds=60.0) -> CheckResult:
    """Lemma A.6 past float64 (module docstring): ``case`` "linear" (linear_case, L = 1) or "net" (kinked_case,
    a two-layer ReLU, L = 2)."""
    import numpy as np
    model, th, data = linear_case(0) if case == "linear" else kinked_case(0)
    step = RidgeStep(0.5, frame=not control)
    tr = integrate(model, th, data, norm=norm, step=step, target_log_depth=log_depth, max_seconds=max_seconds,
                   margin_norms=())
    i0 = tr.t0_index if tr.t0_index is not None else len(tr.steps)
    logs = (tr.log_theta_norm[i0:], tr.log_depth[i0:], tr.log_s[i0:], tr.margin[i0:], tr.soft_margin[i0:])
    finite = bool(i0 < len(tr.steps) and all(np.all(np.isfinite(a)) for a in logs))
    log_norm, depth = float(tr.log_theta_norm[-1]), float(tr.log_depth[-1])
    grew = finite and tr.degree * log_norm >= depth - math.log(float(np.max(tr.margin[i0:])))
    passed = bool(tr.status == "success" and finite and grew and log_norm > LOG_FLOAT_MAX and depth >= log_depth)
    return CheckResult(
        f"lemmaA6-{norm}-beyond-float64-{case}" + ("-plain-float64" if control else ""),
        f"log L -> -inf and ||theta|| -> inf past float64 (log log(1/L) to {log_depth:g}, ||theta|| > 1.8e308)",
        depth, log_depth, passed, comparison=">=",
        detail={"status": tr.status, "log_theta_norm": log_norm, "all_finite": finite, "grew": bool(grew),
                "steps": int(tr.steps[-1]), "frame_exponent": tr.frame_exponent,
                "log10_loss": f"-10^{depth / math.log(10) - math.log10(math.log(10)):.4g}"},
        negative_control=control, definition="log log(1/L) reached (natural logs; the run must also end with "
        "log ||theta_T|| > log(1.8e308) = 709.78, every log-scale record finite and "
        "L log ||theta|| >= log log(1/L) - log max margin)",
        changed="the same rule with theta in plain float64 (frame=False)" if control else "",
        case=describe_case(model, data, data_name="linearly separable data" if case == "linear" else
                           "teacher-student data", algorithm=f"{norm} steepest flow", norm=norm,
                           step=f"{step!r}, target log log(1/L) = {log_depth:g}", reached=reached_text(tr)))
