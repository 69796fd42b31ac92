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
"""
from __future__ import annotations

import math

import kktcheck as kc
import torch

from ..flow import RelativeStep, RidgeStep, integrate
from ..flow.cases import linear_case, separated_case
from ..results import describe_case, reached_text
from .flow_checks import fit_order
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


__all__ = ["check_ridge_order", "check_gunasekar_ridge"]
