"""The built-in default-case suites of ``proofs-numeric verify`` (each a list of theorem checks).

Suites call the check functions of ``flow_checks`` (the steepest flow: Prop A.3, Thm 3.1, Lemmas A.6/A.7,
Gunasekar et al.'s linear limit, solver orders), ``kkt_checks`` (approximate KKT: Thm 3.4, Props A.13 and
B.6) and ``vss_checks`` (KKT points that are not local optima) with their default cases; every positive
check is paired with its negative control. Each suite is registered by one decorator whose import is
guarded: when a module or a check function is missing, the suite is listed as "not available" with the
import error. ``quick=True`` uses fewer/larger steps where the check allows (same claims, same tolerances).
Figures are drawn from the very runs the checks measured, with a caption naming that run.
"""
from __future__ import annotations

import math

import numpy as np

from ..plotting import plot_curves, plot_panels
from ..results import Figure
from .registry import register_suite

FLOW_ID = "Flow identities (Prop A.3, Thm 3.1 pointwise inequality, Lemma A.7)"
FLOW_MONO = "Margin monotonicity in discrete time (Thm 3.1, Remark 3.2)"
FLOW_LIM = "Late phase and limits (Lemma A.6, Gunasekar et al. max-margin)"
SOLVER = "Solver order (discrete scheme vs flow)"
KKT = "Approximate KKT (Thm 3.4, Prop A.13, Prop B.6)"
NORMS = ("l2", "l1", "linf")


# ---------------------------------------------------------------- flow (teammate A's checks)
@register_suite("flow-identities", FLOW_ID, module="flow_checks",
                needs=["check_prop_a3", "check_thm31_inequality", "check_lemma_a7"])
def _flow_identities(m, quick, figdir):
    out = []
    for nm in NORMS:
        out += [m.check_prop_a3(nm), m.check_thm31_inequality(nm), m.check_lemma_a7(nm)]
    out += [m.check_prop_a3("l2", direction_norm="linf"), m.check_thm31_inequality("l2", negative=True),
            m.check_lemma_a7("l2", mean_loss=True)]
    return out


@register_suite("flow-monotone", FLOW_MONO, module="flow_checks", needs=["check_thm31_monotone"])
def _flow_monotone(m, quick, figdir):
    hs = (0.08, 0.04, 0.02) if quick else (0.08, 0.04, 0.02, 0.01)
    out = [m.check_thm31_monotone(nm, hs=hs) for nm in NORMS]
    out.append(m.check_thm31_monotone("l2", hs=hs, negative=True))
    if hasattr(m, "check_other_norm_monotone"):
        out += [m.check_other_norm_monotone("linf", "linf", hs=hs), m.check_other_norm_monotone("linf", "l2", hs=hs)]
    return out


@register_suite("flow-limits", FLOW_LIM, module="flow_checks", needs=["check_lemma_a6", "check_gunasekar"])
def _flow_limits(m, quick, figdir):
    out = [m.check_lemma_a6(nm) for nm in NORMS] + [m.check_lemma_a6("l2", negative=True)]
    from ..flow import RidgeStep          # Lemma A.6 at depth: log10 L = -1e300 with the late-phase integrator
    out += [m.check_lemma_a6(nm, target_log_loss=-1e300 * math.log(10), step=RidgeStep(0.5), max_steps=20_000,
                             max_seconds=60.0) for nm in (("l2",) if quick else NORMS)]
    g = [m.check_gunasekar(nm) for nm in NORMS] + [m.check_gunasekar("l1", measure_norm="l2")]
    if hasattr(m, "gunasekar_run"):
        fig = _margins_figure(m, figdir, g[:len(NORMS)])
        for r in g[:len(NORMS)]:
            r.figures.append(fig)
    return out + g


def _margins_figure(m, figdir, checks):
    """Each flow's margin in its own norm against loss-normalized time (log-log), one panel per norm, with the
    exact max-margin as a flat line: the same (cached) runs as the gunasekar-* checks."""
    panels = []
    for nm, r in zip(NORMS, checks):
        tr = m.gunasekar_run(*r.detail["run"])          # the check's own (cached) run
        i0 = tr.t0_index or 0
        s = np.asarray(tr.s, float)[i0:]
        opt = r.detail["optimal_margin"]
        panels.append(dict(title=f"{nm} flow: {nm} margin", xlabel="loss-normalized time s",
                           ylabel=f"normalized {nm} margin", logx=True, logy="auto",
                           curves={f"{nm} flow": (s, np.asarray(tr.margins[nm], float)[i0:]),
                                   f"exact {nm} max-margin {opt:.4g}": (s[[0, -1]] if s.size else s, [opt, opt])}))
    path = plot_panels(panels, figdir / "flow_margins.png",
                       suptitle="Gunasekar et al.: flow margin -> exact max-margin")
    return Figure(str(path), f"The runs of {', '.join(r.name for r in checks)}: {checks[0].case.text()} "
                             "(the l1 and linf runs likewise in their norms); flat line: the exact max-margin.")


@register_suite("solver-order", SOLVER, module="flow_checks", needs=["check_solver_order"])
def _solver_order(m, quick, figdir):
    out = [m.check_solver_order(s) for s in ("euler", "heun", "rk4")]
    return out + [m.check_solver_order("euler", declared_order=2)]




# ---------------------------------------------------------------- KKT (teammate C2's checks)
KKT_CASES = (("l2", "linf"), ("linf", "l2"), ("l1", "l2"), ("spectral", "l2"))


@register_suite("kkt", KKT, module="kkt_checks", needs=["local_trajectory", "check_thm34", "check_a13", "check_b6"])
def _kkt(m, quick, figdir):
    from ..flow.cases import kkt_case
    from ..results import describe_case
    steps = 6400 if quick else 12800
    snap_steps = np.unique(np.geomspace(steps / 64, steps, 8 if quick else 12).astype(int))
    out = []
    for norm, wrong in KKT_CASES:
        data, model, th0 = kkt_case(norm)
        snaps, lls = m.local_trajectory(model, th0, data, norm=norm, lr=0.05, steps=steps, snapshot_steps=snap_steps)
        kw = dict(model=model, log_losses=lls)
        rows = [m.check_thm34(snaps, data, norm=norm, burn_in=0.0, **kw),
                m.check_thm34(snaps, data, norm=norm, residual_norm=wrong, burn_in=0.0, **kw),
                m.check_a13(snaps, data, norm=norm, **kw), m.check_a13(snaps, data, norm=norm, weights="uniform", **kw),
                m.check_b6(snaps, data, norm=norm, **kw), m.check_b6(snaps, data, norm=norm, bregman_norm=wrong, **kw)]
        case = describe_case(model, data, data_name="separable data, margin 0.3 along a planted direction",
                             algorithm=f"normalized {norm} steepest descent (exp loss)", norm=norm,
                             step=f"lr 0.05, {steps} steps, {len(snap_steps)} snapshots from step {snap_steps[0]}",
                             reached=f"log10 L = {lls[-1] / np.log(10):.4g} after {steps} steps")
        for r in rows:
            r.case = case
        _kkt_figures(rows, norm, figdir, case)
        out += rows
    return out


def _kkt_figures(rows, norm, figdir, case):
    """Thm 3.4: residual r against log(1/L) (own norm and the control's norm) on the rows' run; Prop A.13: delta,
    its bound and the objectives against log(1/L) for the positive A.13 row."""
    th = [r for r in rows if r.name.startswith("thm3.4") and r.has_evidence]
    if th:
        curves = {r.name + (" (negative control)" if r.negative_control else ""):
                  (-np.asarray(r.detail["log_loss"]), r.detail["residual"]) for r in th}
        p = plot_curves(curves, figdir / f"kkt_residual_{norm}.png", xlabel="log(1/L)",
                        ylabel="KKT residual r (scale-free)", logx=True, logy=True,
                        title=f"Thm 3.4: residual vs loss, {norm} run")
        for r in th:
            r.figures.append(Figure(str(p), f"KKT residual of the {norm} run ({case.text()}); a line falling to "
                                            "the right in the algorithm's own norm, flat for the control."))
    for r in rows:
        d = r.detail
        if r.name.startswith("propA13") and not r.negative_control and r.has_evidence and d.get("log_loss"):
            x = -np.asarray(d["log_loss"])
            curves = {"delta (construction)": (x, d["delta"]), "Prop A.13 bound on delta": (x, d["delta_bound"]),
                      "objective max(eps_rel, delta_rel), construction": (x, d["objective_construction"])}
            if d["objective_optimized"]:
                curves["objective, optimized (kc.residual)"] = (x, d["objective_optimized"])
            p = plot_curves(curves, figdir / f"kkt_a13_{r.name}.png", xlabel="log(1/L)", ylabel="value",
                            logx=True, logy=True, title=f"{r.name}: bound vs values")
            r.figures.append(Figure(str(p), f"Prop A.13 on the {norm} run ({case.text()}): delta must stay under "
                                            "its bound; the optimized objective never above the construction's."))


# ---------------------------------------------------------------- Vardi, Shamir & Srebro 2022
VSS = "KKT points that are not local optima (Vardi, Shamir & Srebro 2022)"


@register_suite("vss", VSS, module="vss_checks", needs=["check_flow_limit", "check_kkt", "check_not_local"])
def _vss(m, quick, figdir):
    starts = 6 if quick else 20
    out = []
    for name in ("C1", "C3"):
        out += [m.check_flow_limit(name), m.check_kkt(name), m.check_kkt(name, negative=True),
                m.check_not_local(name, starts=starts), m.check_not_local(name, negative=True, starts=starts)]
    out.insert(1, m.check_flow_limit("C1", negative=True))
    probes = [r for r in out if r.name.startswith("vss-not-local") and not r.negative_control]
    curves = {f"{r.name.replace('vss-not-local-', '')} (order {r.detail['gain_order_in_r']:.2f})":
              (r.detail["radii"], r.detail["gains"]) for r in probes}
    path = plot_curves(curves, figdir / "vss_gains.png", xlabel="probe radius r", ylabel="relative gain of gamma_bar",
                       logx=True, logy=True, markers=True, title="best gain of gamma_bar within radius r")
    fig = Figure(str(path), f"The ascent probes of {', '.join(r.name for r in probes)} ({starts} Nelder-Mead starts "
                            "per radius) at the flows' limits; slope 2: a saddle, slope 1: ascent through a kink.")
    for r in probes:
        r.figures.append(fig)
    return out


# ---------------------------------------------------------------- late phase (RidgeStep, the default integrator)
@register_suite("late-phase", "Late phase: the default integrator follows one flow to the limit",
                module="late_phase_checks", needs=["check_gunasekar_ridge", "check_ridge_order",
                                                   "check_ridge_drawdown", "check_owner_at_depth",
                                                   "check_beyond_float64"])
def _late_phase(m, quick, figdir):
    """Quick: the orders and drawdowns for linf only, owners (GD, sign descent) at log10 L = -1e3 only, past
    float64 for l2 on the linear model only."""
    out = [m.check_gunasekar_ridge(nm) for nm in ("l1", "l2", "linf")]
    out.append(m.check_gunasekar_ridge("linf", measure_norm="l2"))
    norms = ("linf",) if quick else ("linf", "l1", "l2")
    out += [m.check_ridge_order(nm) for nm in norms] + [m.check_ridge_order("linf", control=True)]
    if not quick:
        out += [m.check_ridge_drawdown(nm) for nm in norms]
        out += [m.check_ridge_drawdown(nm, control=True) for nm in ("linf", "l1")]
    owners = dict(norms=("l2", "linf"), depths=(-1e3,)) if quick else {}
    out += [m.check_owner_at_depth(**owners), m.check_owner_at_depth(**owners, control=True)]
    beyond = [("l2", "linear")] if quick else [(nm, c) for c in ("linear", "net") for nm in ("l2", "linf", "l1")]
    out += [m.check_beyond_float64(nm, case=c, log_depth=800.0 if c == "linear" else 1500.0) for nm, c in beyond]
    return out + [m.check_beyond_float64("l2", log_depth=800.0, control=True)]


# ---------------------------------------------------------------- Theorem 3.4 on ReLU networks (continuous KKT measure)
@register_suite("thm34-nets", "Theorem 3.4 on ReLU networks: KKT measure in the algorithm's norm -> 0",
                module="thm34_net_checks", needs=["check_thm34_net", "check_thm34_net_depth", "plot_measures"])
def _thm34_nets(m, quick, figdir):
    """Two-layer (GD, SD, CD) and three-layer (SD, GD) teacher-student nets: own-norm measure vs another norm."""
    other = {"l2": "linf", "linf": "l2", "l1": "linf"}
    cases = [("two-layer", ("linf", "l1") if quick else ("l2", "linf", "l1"))]
    cases += [] if quick else [("three-layer", ("linf", "l2"))]   # the three-layer runs: the full report only
    out = []
    for kind, norms in cases:
        kw = dict(log10_target=-1e6, max_seconds=120.0)
        for nm in norms:
            out += [m.check_thm34_net(nm, kind=kind, informational=nm == "l2" or (kind, nm) == ("two-layer", "linf"),
                                      **kw),
                    m.check_thm34_net(nm, kind=kind, measure_norm=other[nm], **kw),
                    m.check_thm34_net_depth(nm, kind=kind, **kw)]
        out[-3].figures.append(m.plot_measures(kind, norms, figdir / f"thm34_{kind}.png", **kw))
    return out


@register_suite("thm34-step-floor", "Theorem 3.4 on a ReLU net as a statement about the flow: the GD measure's floor "
                "shrinks with the step h; sign descent's measure at small h", module="thm34_step_checks",
                needs=["check_thm34_step_floor", "check_thm34_step_depth", "plot_step_floor", "check_sd_split",
                       "check_thm34_net", "SD_FLOOR", "SD_NOT_ASSERTED"])
def _thm34_step_floor(m, quick, figdir):
    """GD (l2) on the two-layer net: floor of the l2 measure vs h (control: the same floor measured in linf).
    Full report only: the same for sign descent (linf; control l2; reported, not asserted), Theorem 3.4's decrease
    of the linf measure on the smallest-h SD run (asserted; control l2) and where that measure sits."""
    kw = dict(hs=(m.HS[0], m.HS[-1]), n_points=12) if quick else {}     # quick: the full sweep's two end steps
    out = [m.check_thm34_step_floor("l2", **kw), m.check_thm34_step_floor("l2", measure_norm="linf", **kw),
           m.check_thm34_step_depth("l2", **kw)]
    out[0].figures.append(m.plot_step_floor("l2", figdir / "thm34_step_floor.png", **kw))
    if quick:
        return out
    sd = m.SD_FLOOR
    run = dict(h=min(sd["hs"]), log10_target=sd["log10_target"], n_points=sd["n_points"], max_seconds=sd["max_seconds"])
    out += [m.check_thm34_step_floor("linf", not_asserted=m.SD_NOT_ASSERTED, **sd),
            m.check_thm34_step_floor("linf", measure_norm="l2", **sd),
            m.check_thm34_net("linf", **run), m.check_thm34_net("linf", measure_norm="l2", **run),
            m.check_thm34_step_depth("linf", **sd), m.check_sd_split(**sd)]
    out[-6].figures.append(m.plot_step_floor("linf", figdir / "thm34_step_floor_sd.png", other="l2", **sd))
    return out


@register_suite("thm34-recognized", "Theorem 3.4 recognized: kc.residual says KKT in the algorithm's own norm only",
                module="thm34_recognize_checks", needs=["check_kkt_recognized", "SD_NOT_ASSERTED", "plot_recognized"])
def _thm34_recognized(m, quick, figdir):
    """GD (l2), CD (l1) and sign descent (linf) on a tiny two-layer teacher-student net run deep (``STAGES``; SD ends
    with a small-h stretch): approximately KKT in their own norm, not KKT in the others (controls: another norm
    claimed; the run stopped at log10 L = -10). Full report only: GD and CD on the late-phase benchmark's net with an
    h schedule (``STAGES``: h = 0.05 into the deep phase, then a smaller h for the last stretch), sign descent there
    reported, not asserted, GD on a three-layer ReLUNet to log10 L = -1e8 (deep ReLU band), and spectral descent on
    the tiny net (the spectral ridge step, to log10 L = -1e5; measured in spectral, l2, linf, l1), with the controls."""
    out = []
    for nm, other in (("l2", "linf"), ("l1", "l2"), ("linf", "l2")):
        out += [m.check_kkt_recognized(nm), m.check_kkt_recognized(nm, claimed=other)]
        out += [] if quick else [m.check_kkt_recognized(nm, shallow=True)]
    if not quick:
        out += [m.check_kkt_recognized("l2", kind="bench"), m.check_kkt_recognized("l2", kind="bench", claimed="linf"),
                m.check_kkt_recognized("l1", kind="bench"), m.check_kkt_recognized("l1", kind="bench", claimed="l2"),
                m.check_kkt_recognized("linf", kind="bench", not_asserted=m.SD_NOT_ASSERTED),
                m.check_kkt_recognized("linf", kind="bench", claimed="l2"),
                m.check_kkt_recognized("l2", kind="three-layer"),
                m.check_kkt_recognized("l2", kind="three-layer", claimed="linf"),
                m.check_kkt_recognized("l2", kind="three-layer", shallow=True, window=1),
                m.check_kkt_recognized("spectral"), m.check_kkt_recognized("spectral", claimed="l2"),
                m.check_kkt_recognized("spectral", shallow=True)]
    own = [r for r in out if not r.negative_control]
    out[0].figures.append(m.plot_recognized(own, figdir / "thm34_recognized.png"))
    return out


# ---------------------------------------------------------------- Gronich & Vardi 2026: schedules; linear sanity rows
@register_suite("thm32-schedule", "Normalized steepest descent with a step-size schedule (Gronich & Vardi, Thm 3.2)",
                module="schedule_checks", needs=["check_thm32_kkt", "check_thm32_margin", "plot_schedule_margins"])
def _thm32_schedule(m, quick, figdir):
    """Sign descent and normalized GD with eta0 t^-0.8 (LR-MSD) vs constant / summable steps (controls)."""
    kw = dict(steps=4000, seeds=(0, 1) if quick else (0, 1, 2, 3, 4, 5))
    out = [m.check_thm32_kkt("linf", **kw), m.check_thm32_kkt("linf", schedule="constant", **kw),
           m.check_thm32_margin("linf", **kw), m.check_thm32_margin("linf", schedule="constant", **kw),
           m.check_thm32_kkt("l2", **kw), m.check_thm32_kkt("l2", schedule="summable", **kw)]
    fig = m.plot_schedule_margins(kw["steps"], figdir / "thm32_schedule_margins.png", seeds=kw["seeds"])
    for r in out:
        r.figures.append(fig)
    return out


@register_suite("linear-sanity", "Linear sanity rows: Adam (eps = 0) -> l_inf, momentum GD -> l2 max-margin "
                "(Zhang, Zou & Cao 2024)", module="linear_sanity_checks", needs=["check_linear_limit"])
def _linear_sanity(m, quick, figdir):
    steps = 20_000 if quick else 100_000
    return [m.check_linear_limit(algo, measure_norm=mn, steps=steps)
            for algo, own, other in (("Adam", "linf", "l2"), ("MomentumGD", "l2", "linf")) for mn in (own, other)]
