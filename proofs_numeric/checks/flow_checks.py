"""Checks of the steepest-flow results (Prop A.3, Thm 3.1, Lemmas A.6-A.7, Gunasekar et al.'s linear limit) on trajectories of ``flow.integrate``.

Every check returns a CheckResult and has a negative control (a violated hypothesis) on which the same
code reports failure.  Float identities use tolerances derived from finfo(float64).eps; discrete-time
versions of flow statements measure the violation at several step sizes and fit its order.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from kktcheck.norms import norm as make_norm

from ..flow import ConstantStep, RelativeStep, SteepestField, integrate, make_solver
from ..flow.cases import linear_case, offset_case, remark32_case, separated_case, smooth_case
from ..flow.recorder import normalized
from ..results import CheckResult, describe_case, reached_text

EPS = float(np.finfo(np.float64).eps)
ID_TOL = 1e3 * EPS  # identities: a few hundred roundings of O(1) relative quantities


def fit_order(hs, errs) -> float:
    """Least-squares slope of log(err) against log(h) over the positive errors (nan if < 2 of them)."""
    hs, errs = np.asarray(hs, float), np.asarray(errs, float)
    ok = errs > 0
    return float(np.polyfit(np.log(hs[ok]), np.log(errs[ok]), 1)[0]) if ok.sum() >= 2 else float("nan")


def _field(case, norm):
    from kktcheck import prepare
    model, th, data = case
    fm, params, degree, X, y = prepare(th, data, model)
    return SteepestField(fm, X, y, make_norm(norm), degree=degree), params, degree


CASE_NAMES = {"TwoLayerReLU": "linearly separable points, started after l2-flow to log L <= -1",
              "Linear": "linearly separable points", "OffsetLinear": "all-positive labels (fixed output offset 3)",
              "DiagonalNet": "linearly separable points"}


def _case(case, norm, step, tr=None, solver="Euler"):
    """The ``Case`` of a check on ``case`` = (model, theta0, data), run as the ``norm`` flow with ``step``."""
    model, _, data = case
    return describe_case(model, data, data_name=CASE_NAMES.get(type(model).__name__, ""),
                         algorithm=f"{make_norm(norm).name} steepest flow ({solver}, loss-normalized time)",
                         norm=make_norm(norm).name, step=step, reached=reached_text(tr) if tr is not None else "")


def _snap(case, norm, h, n, every=1):
    model, th, data = case
    return integrate(model, th, data, norm=norm, step=RelativeStep(h), max_steps=n, snapshot_every=every)


def check_prop_a3(norm="l2", *, direction_norm=None, h=1e-3, n_steps=40, case=None) -> CheckResult:
    """Prop. A.3: <G, v> = -||G||_*^2 and ||v|| = ||G||_* along the flow (loss time; times L^2, L in t),
    and log L non-increasing along the Euler scheme with a small step.
    Negative control: ``direction_norm`` != norm moves along another norm's steepest direction."""
    case = case or separated_case()
    nrm = make_norm(norm)
    dn = make_norm(direction_norm or norm)
    field, _, _ = _field(case, norm)
    tr = _snap(case, norm, h, n_steps, every=max(1, n_steps // 8))
    worst = 0.0
    for _, p in tr.snapshots:
        ev = field(p)
        v = [-dn.dual(ev.G) * u for u in dn.dualize(ev.G)]
        gd = ev.gdual
        pair = float(sum((g * vb).sum() for g, vb in zip(ev.G, v)))
        worst = max(worst, abs(pair + gd ** 2) / gd ** 2, abs(nrm(v) - gd) / gd)
    rise = float(np.max(np.diff(tr.log_loss), initial=-np.inf))
    points = len(tr.snapshots)
    evidence = points > 0 and tr.log_loss.size >= 2   # identities at >= 1 point, the loss over >= 1 step
    passed = evidence and worst <= ID_TOL and rise <= 0.0
    neg = direction_norm is not None and dn != nrm
    return CheckResult(f"propA3-{nrm.name}" + (f"-dir-{dn.name}" if direction_norm else ""),
                       "dL/dt = -||grad L||_*^2, ||theta'|| = ||grad L||_*, loss non-increasing",
                       worst, ID_TOL, passed, detail={"max_log_loss_increase": rise, "points": points},
                       negative_control=neg, evidence=evidence,
                       definition="largest relative error of <G,v> = -||G||_*^2 and ||v|| = ||G||_* over the "
                                  "recorded points (v: the step direction)",
                       changed=f"the step moves along the {dn.name} steepest direction, not the {nrm.name} one"
                       if neg else "", case=_case(case, norm, f"RelativeStep({h}), {n_steps} steps", tr))


def max_drawdown(a) -> float:
    """max over i < j of (a_i - a_j) / a_i: the largest cumulative relative decrease."""
    a = np.asarray(a, float)
    peak = np.maximum.accumulate(a)
    return float(max(0.0, np.max((peak - a) / np.abs(peak), initial=0.0)))


def _drawdown_order(case, norm, measure, hs, span):
    decs, separated, tr = [], True, None
    for h in hs:
        tr = _snap(case, norm, h, int(round(span / h)))
        separated &= tr.t0_index is not None and tr.log_loss.size - tr.t0_index >= 2
        decs.append(max_drawdown(tr.soft_margins[make_norm(measure).name][tr.t0_index or 0:]))
    return decs, fit_order(hs, decs), separated, tr


def check_thm31_monotone(norm="l2", *, hs=(0.04, 0.02, 0.01, 0.005), span=1.0, min_order=0.7,
                         case=None, negative=False, measure_norm=None) -> CheckResult:
    """Thm 3.1 in discrete time: after L < 1 the soft margin (algorithm's norm) is non-decreasing up to
    a discretization error.  Runs Euler with relative steps h (span/h steps each, the same stretch of the
    curve), measures the largest drawdown max_{i<j} (soft_i - soft_j)/soft_i and asserts it shrinks with
    fitted order >= min_order in h (or is exactly 0 at the two smallest steps).  Euler is first order, so
    the expected order is >= 1; min_order = 0.7 allows for the noise of a max statistic fitted over 4
    step sizes (measured l1 orders on separated_case seeds 0-4: 0.82-1.16; zero drawdowns are left out
    of the fit).
    Negative control (``negative=True``): a non-homogeneous model (fixed output offset); the drawdown
    stays O(1) as h -> 0.  ``measure_norm`` measures the soft margin in another norm (Remark 3.2)."""
    case = offset_case() if negative else (case or separated_case())
    meas = measure_norm or norm
    decs, order, separated, tr = _drawdown_order(case, norm, meas, hs, span)
    exact = all(d == 0.0 for d in decs[-2:])
    tag = "" if measure_norm is None else f"-measured-{make_norm(meas).name}"
    other = make_norm(meas) != make_norm(norm)
    changed = ("a non-homogeneous model (fixed output offset 3)" if negative else
               f"the soft margin is measured in {make_norm(meas).name}, not the algorithm's {make_norm(norm).name}"
               if other else "")
    kw = dict(detail={"hs": list(hs), "max_drawdown": decs, "fitted_order": order},
              negative_control=negative or other, evidence=separated, changed=changed,
              case=_case(case, norm, f"RelativeStep(h) for h in {list(hs)}, span {span}", tr))
    name = f"thm3.1-monotone-{make_norm(norm).name}" + ("-offset" if negative else "") + tag
    if exact:   # no decrease at all at the two smallest steps: the statement holds exactly there
        return CheckResult(name, "soft margin non-decreasing after L<1 (exactly: no drawdown at the two "
                           "smallest steps)", max(decs[-2:]), 0.0, True, comparison="<=",
                           definition="largest relative soft-margin drawdown after L<1 at the two smallest steps",
                           **kw)
    return CheckResult(name, "soft margin non-decreasing after L<1; discrete drawdown -> 0 with order >= ~1",
                       order, min_order, order >= min_order, comparison=">=",
                       definition="fitted order p of the largest relative soft-margin drawdown after L<1 in the "
                                  "step h (drawdown ~ h^p)", **kw)


def check_other_norm_monotone(algo_norm="linf", measure_norm="l2", **kw) -> CheckResult:
    """Remark 3.2: only the algorithm's own soft margin is guaranteed monotone.  On ``remark32_case``
    (start on the l2-max-margin direction) the sign-descent flow keeps its linf soft margin monotone
    (passes) while the l2 soft margin falls by ~17% at every step size: the check of "the l2 margin is
    monotone" reports failure (the negative control)."""
    return check_thm31_monotone(algo_norm, case=remark32_case(), measure_norm=measure_norm, span=2.0, **kw)


def norm_rate(nrm, params, v) -> float:
    """One-sided derivative d/de ||theta + e v|| at e = 0+, i.e. max over h in d||theta|| of <h, v>.
    Exact for l1 (zero coordinates contribute |v_j|), l2 and linf (max over the tied maximal coordinates);
    other norms use the selection ``norm.subgradient(theta)``."""
    from kktcheck.norms import LpNorm
    from kktcheck.params import flatten
    if isinstance(nrm, LpNorm) and nrm.p in (1.0, 2.0, math.inf):
        x, w = flatten(params), flatten(v)
        if nrm.p == 1.0:
            return float((torch.sign(x) * w).sum() + w[x == 0].abs().sum())
        if nrm.p == 2.0:
            return float((x * w).sum() / torch.linalg.vector_norm(x))
        top = x.abs() == x.abs().max()
        return float((torch.sign(x) * w)[top].max())
    h = nrm.subgradient(params)
    return float(sum((a * b).sum() for a, b in zip(h, v)))


def thm31_terms(field, params, degree):
    """(LHS, RHS) of Thm 3.1 in loss time at params: LHS = d/ds log soft margin (right derivative) from
    the exact velocity v = -||G||_* dualize(G), with ``norm_rate`` for d/ds ||theta||, RHS = degree (||G||_*^2/<theta,-G> - ||G||_*/||theta||)."""
    nrm = field.norm
    ev = field(params)
    gd, r = ev.gdual, nrm(params)
    v = ev.velocity
    dnorm = norm_rate(nrm, params, v)
    lhs = gd ** 2 / (-ev.log_L) - degree * dnorm / r
    pair = -float(sum((a * b).sum() for a, b in zip(params, ev.G)))
    rhs = degree * (gd ** 2 / pair - gd / r)
    return lhs, rhs, gd / r


def check_thm31_inequality(norm="l2", *, h=0.05, n_steps=40, case=None, negative=False) -> CheckResult:
    """Pointwise Thm 3.1 at every recorded point with L < 1: LHS >= RHS >= 0 up to rounding
    (tolerance ID_TOL * ||G||_*/||theta||, the scale of both sides).
    Negative control (``negative=True``): the non-homogeneous offset model (Euler identity fails)."""
    case = offset_case() if negative else (case or separated_case())
    field, _, degree = _field(case, norm)
    tr = _snap(case, norm, h, n_steps, every=1)
    worst, points = math.inf, 0
    for idx, p in tr.snapshots:
        if tr.log_loss[idx] >= 0:
            continue
        lhs, rhs, scale = thm31_terms(field, p, degree)
        worst, points = min(worst, (lhs - rhs) / scale, rhs / scale), points + 1
    passed = points > 0 and worst >= -ID_TOL * 10
    return CheckResult(f"thm3.1-inequality-{make_norm(norm).name}" + ("-offset" if negative else ""),
                       "d/ds log soft margin >= L(||G||^2/<theta,-G> - ||G||/||theta||) >= 0",
                       worst, -ID_TOL * 10, passed, comparison=">=", negative_control=negative,
                       detail={"points": points}, evidence=points > 0,
                       definition="min over recorded points with L<1 of (LHS - RHS) and RHS, in units of "
                                  "||G||_*/||theta||",
                       changed="a non-homogeneous model (fixed output offset 3)" if negative else "",
                       case=_case(case, norm, f"RelativeStep({h}), {n_steps} steps", tr))


def check_lemma_a7(norm="l2", *, h=0.05, n_steps=60, case=None, mean_loss=False) -> CheckResult:
    """Lemma A.7 sandwich on a trajectory: hard - log m/||theta||^L <= soft <= hard at every record with
    L < 1 (relative violation <= ID_TOL).  Negative control: the soft margin of the MEAN loss."""
    case = case or separated_case()
    tr = _snap(case, norm, h, n_steps)
    m = len(case[2][1])
    separated = tr.t0_index is not None
    k = tr.t0_index if separated else tr.log_loss.size
    hard, soft = tr.margin[k:], tr.soft_margin[k:].copy()
    slack = math.log(m) / tr.theta_norm[k:] ** tr.degree
    if mean_loss:
        soft = soft + slack
    viol = np.maximum(soft - hard, hard - slack - soft) / np.abs(hard)
    worst = float(np.max(viol, initial=-np.inf))
    return CheckResult(f"lemmaA7-{tr.norm}" + ("-meanloss" if mean_loss else ""),
                       "hard - log m/||theta||^L <= soft <= hard", worst, ID_TOL, worst <= ID_TOL,
                       detail={"records": int(hard.size)}, negative_control=mean_loss, evidence=hard.size > 0,
                       definition="largest relative violation of the sandwich over the records with L<1",
                       changed="the soft margin of the MEAN loss (log m larger)" if mean_loss else "",
                       case=_case(case, norm, f"RelativeStep({h}), {n_steps} steps", tr))


def check_lemma_a6(norm="l2", *, target_log_loss=-1e3, max_steps=2000, negative=False, step=None,
                   max_seconds=None) -> CheckResult:
    """Lemma A.6: after L < 1, log L -> -inf and ||theta|| -> inf.  Measured: the final log L (must reach
    the target) with ||theta|| growing at least like (log(1/L)/max hard margin)^(1/L), and every recorded number
    finite (log L, ||theta||, the margins: also at log10 L = -1e300, where L itself is far below float64).
    ``step``: the step rule (default RelativeStep(0.1); the deep rows use the late-phase RidgeStep(0.5)).
    Negative control: a non-separable start (A3 fails): log L stays bounded."""
    from ..datasets import non_separable
    model, th, data = linear_case()
    if negative:
        data = non_separable(12, 4, seed=0)
    step = RelativeStep(0.1) if step is None else step
    tr = integrate(model, th, data, norm=norm, step=step, target_log_loss=target_log_loss,
                   max_steps=max_steps, max_seconds=max_seconds)
    finite = bool(all(np.all(np.isfinite(a)) for a in (tr.log_loss, tr.theta_norm, tr.margin, tr.soft_margin)))
    # ||theta||^L >= log(1/L) / max|gamma_bar|, compared as log(1/L) / ||theta||^L (log-safe at ||theta|| ~ 1e300)
    grew = bool(tr.ok and finite and normalized(-tr.log_loss[-1], tr.theta_norm[-1], tr.degree)
                <= np.max(np.abs(tr.margin)))
    final = float(tr.log_loss[-1])
    deep = target_log_loss < -1e100
    return CheckResult(f"lemmaA6-{tr.norm}" + ("-depth" if deep else "") + ("-nonseparable" if negative else ""),
                       "log L -> -inf and ||theta|| -> inf" + (f" (to log10 L = {target_log_loss / math.log(10):.3g}, "
                                                               "every recorded number finite)" if deep else ""),
                       final, target_log_loss, bool(final <= target_log_loss and grew and finite),
                       detail={"status": tr.status, "theta_norm": float(tr.theta_norm[-1]), "all_finite": finite,
                               "steps": int(tr.steps[-1])}, negative_control=negative,
                       definition="final log L of the run (and ||theta||^L >= log(1/L)/max margin, all records finite)",
                       changed="non-separable data (assumption A3 fails)" if negative else "",
                       case=_case((model, th, data), norm, f"{step!r}, at most {max_steps} steps", tr))


@functools.lru_cache(maxsize=16)
def gunasekar_run(norm: str, measure_norm: str, step: float = 0.25, max_steps: int = 3000):
    """The ``norm`` flow on ``linear_case()`` with ConstantStep(step) for max_steps steps, recording the margin in
    ``measure_norm``: the run behind ``check_gunasekar`` (cached, so its figure shows the same run)."""
    model, th, data = linear_case()
    return integrate(model, th, data, norm=norm, step=ConstantStep(step), max_steps=max_steps,
                     margin_norms=(make_norm(measure_norm),))


def check_gunasekar(norm="l2", *, measure_norm=None, rtol=0.01, step=0.25, max_steps=3000) -> CheckResult:
    """Gunasekar et al. 2018: on linearly separable data the linear model's normalized hard margin under the
    ``norm`` flow reaches the exact ||.||-max-margin (kktcheck.max_margin_linear) within rtol.
    Constant loss-time steps (Gunasekar's loss-scaled lr eta ~ 1/L): each step moves the margins q_i by
    O(step), so the softmax weights stay resolved; relative steps do NOT follow the flow late on for
    non-smooth norms (sign descent locks into a chattering mode below the optimum, docs/flow.md).
    Negative control: compare in another norm (``measure_norm``)."""
    import kktcheck as kc
    model, th, data = linear_case()
    mn = make_norm(measure_norm or norm)
    run = (make_norm(norm).name, mn.name, float(step), int(max_steps))
    tr = gunasekar_run(*run)
    opt = kc.max_margin_linear(data[0].numpy(), data[1].numpy(), norm=mn.name)
    got = float(tr.margins[mn.name][-1])
    err = abs(got - opt.margin) / opt.margin
    neg = mn != make_norm(norm)
    return CheckResult(f"gunasekar-{tr.norm}" + (f"-measured-{mn.name}" if measure_norm else ""),
                       "flow margin -> exact max-margin in the algorithm's norm", err, rtol, err <= rtol,
                       detail={"flow_margin": got, "optimal_margin": float(opt.margin),
                               "final_log10_loss": float(tr.log10_loss[-1]), "run": run},
                       negative_control=neg,
                       definition=f"|final {mn.name} margin of the flow - exact {mn.name} max-margin| / exact",
                       changed=f"compared in {mn.name}, not the algorithm's {make_norm(norm).name}" if neg else "",
                       case=_case((model, th, data), norm, f"ConstantStep({step}), {max_steps} steps", tr))


def check_solver_order(solver="euler", *, declared_order=None, hs=(0.2, 0.1, 0.05, 0.025), T=0.8,
                       atol=0.3) -> CheckResult:
    """Fitted slope of log ||theta_h(T) - theta_ref(T)||_2 vs log h equals the declared order within atol
    (l2 flow, loss time, smooth depth-2 diagonal net, reference RK4 with h/16 of the smallest step).
    Negative control: a wrong ``declared_order``."""
    slv = make_solver(solver)
    order = slv.order if declared_order is None else declared_order
    model, th, data = smooth_case()

    def run(s, h):
        n = int(round(T / h))
        return integrate(model, th, data, norm="l2", solver=s, step=ConstantStep(h), max_steps=n,
                         margin_norms=()).params
    ref = torch.cat([p.reshape(-1) for p in run("rk4", hs[-1] / 16)])
    errs = [float(torch.linalg.vector_norm(torch.cat([p.reshape(-1) for p in run(slv, h)]) - ref)) for h in hs]
    fitted = fit_order(hs, errs)
    neg = declared_order is not None and declared_order != slv.order
    return CheckResult(f"solver-order-{slv.name}" + (f"-declared{order}" if declared_order else ""),
                       "log-error vs log-step slope = declared order", abs(fitted - order), atol,
                       abs(fitted - order) <= atol, detail={"fitted": fitted, "declared": order, "errors": errs},
                       negative_control=neg,
                       definition="|fitted slope of log ||theta_h(T) - theta_ref(T)||_2 vs log h - declared order|",
                       changed=f"declared order {order} instead of {slv.order}" if neg else "",
                       case=_case((model, th, data), "l2", f"ConstantStep(h) for h in {list(hs)} to T = {T}; "
                                  f"reference RK4 with h = {hs[-1] / 16:g}", solver=slv.name))
