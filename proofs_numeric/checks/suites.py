"""The built-in default-case suites of ``proofs-numeric verify`` (each a list of theorem checks).

Suites call the check functions of ``flow_checks`` (steepest flow, SPEC sections 2, 3, 9) and ``kkt_checks``
(approximate KKT, SPEC sections 4-5) with their default cases; every positive check is paired with its
negative control. Imports are guarded: when a module or a check function is missing, the suite is
registered as "not available" with the import error, and the report says so instead of crashing.
``quick=True`` uses fewer/larger steps where the check allows (same claims, same tolerances).
"""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from .registry import register_suite, register_unavailable

FLOW_ID = "Flow identities (Prop A.3, Thm 3.1 pointwise inequality, Lemma A.7)"
FLOW_MONO = "Margin monotonicity in discrete time (Thm 3.1, Remark 3.2)"
FLOW_LIM = "Late phase and limits (Lemma A.6, Gunasekar et al. max-margin)"
SOLVER = "Solver order (discrete scheme vs flow)"
KKT = "Approximate KKT (Thm 3.4, Prop A.13, Prop B.6)"
NORMS = ("l2", "l1", "linf")


def _module(name):
    """(module, None) or (None, 'ImportError: ...')."""
    try:
        return importlib.import_module(f"proofs_numeric.checks.{name}"), None
    except Exception as exc:  # noqa: BLE001 - reported as 'not available'
        return None, f"{type(exc).__name__}: {exc}"


def _register(name, section, module, needs, fn):
    """Register ``fn(mod, quick, figdir)`` if ``module`` imports and has every function in ``needs``."""
    mod, err = _module(module)
    missing = [n for n in needs if mod is not None and not hasattr(mod, n)]
    if mod is None or missing:
        register_unavailable(name, section, err or f"proofs_numeric.checks.{module} lacks {missing}")
        return
    register_suite(name, section)(lambda quick, figdir: fn(mod, quick, Path(figdir)))


# ---------------------------------------------------------------- flow (teammate A's checks)
def _flow_identities(m, quick, figdir):
    out = []
    for nm in NORMS:
        out += [m.check_prop_a3(nm), m.check_thm31_inequality(nm), m.check_lemma_a7(nm)]
    out += [m.check_prop_a3("l2", direction_norm="linf"), m.check_thm31_inequality("l2", negative=True),
            m.check_lemma_a7("l2", mean_loss=True)]
    return out


def _flow_monotone(m, quick, figdir):
    hs = (0.08, 0.04, 0.02) if quick else (0.08, 0.04, 0.02, 0.01)
    out = [m.check_thm31_monotone(nm, hs=hs) for nm in NORMS]
    out.append(m.check_thm31_monotone("l2", hs=hs, negative=True))
    if hasattr(m, "check_other_norm_monotone"):
        out += [m.check_other_norm_monotone("linf", "linf", hs=hs), m.check_other_norm_monotone("linf", "l2", hs=hs)]
    return out


def _flow_limits(m, quick, figdir):
    out = [m.check_lemma_a6(nm) for nm in NORMS] + [m.check_lemma_a6("l2", negative=True)]
    g = [m.check_gunasekar(nm) for nm in NORMS] + [m.check_gunasekar("l1", measure_norm="l2")]
    if g:
        g[0].figures.append(_margins_figure(figdir, quick))
    return out + g


def _margins_figure(figdir, quick):
    """Margins vs loss-normalized time (log-log), l1/l2/linf panels, for the l2, l1 and linf flows on the
    linear default case (the flow solver from SPEC section 10.1)."""
    from ..flow import RelativeStep, integrate
    from ..flow.cases import linear_case
    from ..report.plots import plot_trajectory_margins
    model, th, data = linear_case()
    h, n = (0.02, 800) if quick else (0.01, 3000)
    trajs = {f"{nm} flow": integrate(model, th, data, norm=nm, step=RelativeStep(h), max_steps=n) for nm in NORMS}
    return plot_trajectory_margins(trajs, figdir / "flow_margins.png", norms=NORMS)


def _solver_order(m, quick, figdir):
    out = [m.check_solver_order(s) for s in ("euler", "heun", "rk4")]
    return out + [m.check_solver_order("euler", declared_order=2)]


_register("flow-identities", FLOW_ID, "flow_checks", ["check_prop_a3", "check_thm31_inequality", "check_lemma_a7"],
          _flow_identities)
_register("flow-monotone", FLOW_MONO, "flow_checks", ["check_thm31_monotone"], _flow_monotone)
_register("flow-limits", FLOW_LIM, "flow_checks", ["check_lemma_a6", "check_gunasekar"], _flow_limits)
_register("solver-order", SOLVER, "flow_checks", ["check_solver_order"], _solver_order)


# ---------------------------------------------------------------- KKT (teammate C2's checks)
KKT_CASES = (("l2", "linf"), ("linf", "l2"), ("l1", "l2"), ("spectral", "l2"))


def _kkt(m, quick, figdir):
    from ..flow.cases import kkt_case
    steps = 6400 if quick else 12800
    snap_steps = np.unique(np.geomspace(steps / 64, steps, 8 if quick else 12).astype(int))
    out = []
    for norm, wrong in KKT_CASES:
        data, model, th0 = kkt_case(norm)
        snaps, lls = m.local_trajectory(model, th0, data, norm=norm, lr=0.05, steps=steps, snapshot_steps=snap_steps)
        kw = dict(model=model, log_losses=lls)
        out += [m.check_thm34(snaps, data, norm=norm, burn_in=0.0, **kw),
                m.check_thm34(snaps, data, norm=norm, residual_norm=wrong, burn_in=0.0, **kw),
                m.check_a13(snaps, data, norm=norm, **kw), m.check_a13(snaps, data, norm=norm, weights="uniform", **kw),
                m.check_b6(snaps, data, norm=norm, **kw), m.check_b6(snaps, data, norm=norm, bregman_norm=wrong, **kw)]
        for r in out[-6:]:
            if "delta" in r.detail and "log_loss" not in r.detail and len(r.detail["delta"]) == len(lls):
                r.detail["log_loss"] = [float(v) for v in lls]
    return out


_register("kkt", KKT, "kkt_checks", ["local_trajectory", "check_thm34", "check_a13", "check_b6"], _kkt)


# ---------------------------------------------------------------- Vardi, Shamir & Srebro 2022 (SPEC section 8)
VSS = "KKT points that are not local optima (Vardi, Shamir & Srebro 2022)"


def _vss(m, quick, figdir):
    starts = 6 if quick else 20
    out = []
    for name in ("C1", "C3"):
        out += [m.check_flow_limit(name), m.check_kkt(name), m.check_kkt(name, negative=True),
                m.check_not_local(name, starts=starts), m.check_not_local(name, negative=True, starts=starts)]
    out.insert(1, m.check_flow_limit("C1", negative=True))
    from ..report.plots import plot_curves
    probes = [r for r in out if r.name.startswith("vss-not-local")]
    curves = {f"{r.name.replace('vss-not-local-', '')} (order {r.detail['gain_order_in_r']:.2f})":
              (r.detail["radii"], r.detail["gains"]) for r in probes if not r.negative_control}
    fig = plot_curves(curves, figdir / "vss_gains.png", xlabel="probe radius r", ylabel="relative gain of gamma_bar",
                      logx=True, logy=True, markers=True,
                      title="best gain of gamma_bar within radius r")
    for r in probes:
        r.figures.append(str(fig))
    return out


_register("vss", VSS, "vss_checks", ["check_flow_limit", "check_kkt", "check_not_local"], _vss)


# ---------------------------------------------------------------- late phase (RidgeStep, the default integrator)
def _late_phase(m, quick, figdir):
    out = [m.check_gunasekar_ridge(nm) for nm in ("l1", "l2", "linf")]
    out.append(m.check_gunasekar_ridge("linf", measure_norm="l2"))
    norms = ("linf",) if quick else ("linf", "l1", "l2")
    out += [m.check_ridge_order(nm) for nm in norms] + [m.check_ridge_order("linf", control=True)]
    return out


_register("late-phase", "Late phase: the default integrator follows one flow to the limit",
          "late_phase_checks", ["check_gunasekar_ridge", "check_ridge_order"], _late_phase)


# ---------------------------------------------------------------- Theorem 3.4 on ReLU networks (continuous KKT measure)
def _thm34_nets(m, quick, figdir):
    """Two-layer (GD, SD, CD) and three-layer (SD, GD) teacher-student nets: own-norm measure vs another norm."""
    other = {"l2": "linf", "linf": "l2", "l1": "linf"}
    cases = [("two-layer", ("l2", "linf", "l1")), ("three-layer", ("linf",) if quick else ("linf", "l2"))]
    out = []
    for kind, norms in cases:
        kw = dict(log10_target=-1e6, max_seconds=120.0)
        for nm in norms:
            out += [m.check_thm34_net(nm, kind=kind, **kw),
                    m.check_thm34_net(nm, kind=kind, measure_norm=other[nm], **kw),
                    m.check_thm34_net_depth(nm, kind=kind, **kw)]
        out[-3].figures.append(m.plot_measures(kind, norms, figdir / f"thm34_{kind}.png", **kw))
    return out


_register("thm34-nets", "Theorem 3.4 on ReLU networks: KKT measure in the algorithm's norm -> 0", "thm34_net_checks",
          ["check_thm34_net", "check_thm34_net_depth", "plot_measures"], _thm34_nets)
