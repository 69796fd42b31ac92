"""Theorem 3.4 recognized: ``kc.residual`` on a deep steepest-flow net says "approximately KKT" in the algorithm's
own norm and "not KKT" in the other norms.

(MM): min 1/2 ||theta||^2 s.t. q_i(theta) = y_i f(x_i; theta) >= 1. The KKT measure (``kc.residual(...).measure``,
docs/kkt.md) is M(theta) = min over lambda >= 0 and constraint subgradients k_i (Clarke band, radius 1e-3) of
max(FY(theta~, u) / rho^2, L sum_i lambda_i (q_i - 1) / rho^2), u = sum_i lambda_i k_i, theta~ = theta / q_min^(1/L),
rho = ||theta~||, FY = 1/2 ||theta~||^2 + 1/2 ||u||_*^2 - <theta~, u>: 0 exactly at KKT points, continuous and
scale-free. Theorem 3.4 says every limit direction of the flow in the norm ||.|| is a KKT direction of (MM) in ||.||,
so M in that norm tends to 0 along the flow; in another norm the limit is KKT only by accident.

``check_kkt_recognized(norm, kind=...)`` runs the default late-phase integrator (``RidgeStep(h)``) on a seeded
two-layer teacher-student ReLU net (``recognize_case``: "tiny", small enough to reach its limit in seconds;
"bench", the late-phase benchmark's net; "three-layer", a ReLUNet([10, 10, 10, 1]) whose measure uses the deep
ReLU band of kktcheck/clarke_deep.py) through the stages (h, log10 L target) of ``STAGES[kind, norm]`` (an h
schedule shrinking with depth: Theorem 3.4 is about the flow, the h -> 0 limit of the path, and the path's
measure floor is O(h^1.1) for GD on "bench", docs/kkt.md) and reads M at the final iterate in l2, linf and l1.
It passes when ``kc.residual``'s verdict at tol is "approximately KKT" in the claimed norm (the run's own:
M <= tol) and "not KKT" in each other norm (M > tol, certified by an optimal program or a certified lower bound;
an uncertified upper bound above tol does not count). tol is the issue's target per norm
(``thm34_net_checks.TARGET``: 1e-3 for l2 and linf, 1e-2 for l1; docs/kkt.md, "Choosing tol at depth").
Negative controls, which must fail: the same check claiming another norm (``claimed=``), and the same check on
the same run stopped early (``shallow=True``: at log10 L = ``SHALLOW``, not yet near KKT).

Spectral descent (``norm="spectral"``, the layer-wise spectral norm max_b sigma_max(theta_b); RidgeStep's late phase
solves its ridge program as a cone program, flow.ridge_spectral) on "tiny" is measured in the spectral norm as well
as in l2, linf and l1 (tol 1e-3, ``TARGET_OF``); its row is in the full suite only.

Sign descent (linf) on "tiny" is asserted like GD and CD: its path crosses a ReLU kink back and forth around
the flow's sliding mode, so its last stage uses a small h (crossings within half the band radius, where the band
holds both slopes; ``STAGES``). On "bench" it is reported, not asserted (``SD_NOT_ASSERTED``: the measure falls
only slowly with h there).

``averaged=True`` measures instead the window average of the last ``window`` feasible rescalings theta~_k
(``feasible_average``), the discrete stand-in for the flow's state when a path chatters (Filippov's average
velocity); every check records both the final and the averaged measures in its detail.
"""
from __future__ import annotations

import math
import time
from functools import lru_cache

import numpy as np
import torch

import kktcheck as kc

from ..datasets.teacher_student import teacher_student
from ..flow import RidgeStep, integrate
from ..models import ReLUNet, TwoLayerReLU
from ..plotting import save
from .result import CheckResult
from .thm34_net_checks import ALGO, TARGET

NORMS = ("l2", "linf", "l1")
# Spectral descent (the layer-wise spectral norm max_b sigma_max(theta_b); RidgeStep's late phase solves its ridge
# program as a cone program, flow.ridge_spectral): its rows also read M in the spectral norm, the others do not.
ALGO_OF, TARGET_OF = {**ALGO, "spectral": "SpecD"}, {**TARGET, "spectral": 1e-3}
RECOGNIZE_CASES = {"tiny": dict(d=3, n=6, width=3, seed=1, init=0.5),
                   "bench": dict(d=50, n=64, width=100, seed=0, init=0.1),
                   "three-layer": dict(d=10, n=20, width=10, seed=0, init=0.5, layers=3)}
# (h, log10 L target) stages per (kind, norm): "tiny" GD/CD one stage; "bench" GD h = 0.05 to -1e5, then h = 0.0015625
# to -1.5e5; "bench" CD h = 0.05 to -1e8, then h = 0.003125 to -1.5e8 (its measure still falls with depth at h = 0.05).
# "tiny" SD: h = 0.0125 to -1e12, then h = 0.0005 to -1.2e12. At h = 0.0125 the path crosses the kink of the pair
# (sample 1, unit 0) back and forth (zeta = +4.0e-3 / -4.7e-3, beyond the band radius 1e-3) and the measure
# alternates 0.089 / 0.0028 from step to step; at h = 0.0005 the crossings stay within 2e-4 < r / 2, where the band
# holds the whole slope interval [0, 1], and every late iterate reads M <= 4e-4 (12 schedules: first h 0.05 ...
# 0.00625, switch at -1e8 ... -1e12; docs/kkt.md). "bench" SD: an h schedule into the deep phase, reported, not asserted.
STAGES = {("tiny", "l2"): ((0.0125, -1e5),), ("tiny", "l1"): ((0.0125, -1e5),),
          ("tiny", "linf"): ((0.0125, -1e12), (0.0005, -1.2e12)), ("tiny", "spectral"): ((0.05, -1e5),),
          ("bench", "l2"): ((0.05, -1e5), (0.0015625, -1.5e5)), ("bench", "l1"): ((0.05, -1e8), (0.003125, -1.5e8)),
          ("bench", "linf"): ((0.05, -1e12), (0.0125, -1e14), (0.003125, -1e16)),
          ("three-layer", "l2"): ((0.05, -1e5), (0.0015625, -1e7), (0.0004, -1e8))}
# "tiny" spectral descent: M_spectral = 3.8e-3-3.9e-3 at -1e3, 3.9e-4-4.1e-4 at -1e5, 1.2e-5-1.3e-5 at -1e8, 1.3e-7 at
# -1e12 for every h in 0.05, 0.025, 0.0125, 0.00625 (depth-limited, not h-limited; h = 0.05: 143 steps to -1e5).
# With explicit relative steps instead of the spectral ridge step it stayed at 0.041-0.043 from -1e3 to -1e5.
# "three-layer" GD: at h = 0.0015625 the measure chatters from step to step (0.8e-3 to 1.6e-3 near -1e8); the last
# stretch at h = 0.0004 is smooth (7.9e-4 on every late iterate, the same as h = 0.0004 throughout; docs/kkt.md).
WINDOW, MAX_SECONDS = 24, 300.0   # seconds per stage: a budget for loaded machines, not a target
SHALLOW = -10.0
SD_NOT_ASSERTED = ("not asserted: on this net (P = 5100) the sign-descent measure falls with h only slowly: "
                   "0.115, 0.090, 0.052, 0.041 at the end of stages h = 0.05, 0.0125, 0.003125, 0.00078 (log10 L = "
                   "-1e12, -1e14, -1e16, -1e17), about order 0.25 in h, and at fixed h it no longer falls with depth; "
                   "nets with P = 30 and 80 stop at 0.004-0.05 with the same schedule that brings the tiny net "
                   "(P = 12) to 2e-7 (docs/kkt.md)")


@lru_cache(maxsize=4)
def recognize_case(kind="tiny"):
    """(model, theta0, (X, y)). "tiny": ``teacher_student(3, 6, seed=1)`` and a TwoLayerReLU(3, 3) (both layers
    trained, L = 2, P = 12) from ``model.init(0.5, seed 1)``. "bench": the late-phase benchmark's net,
    ``teacher_student(50, 64, k_star=3, active=3, seed=0)`` and a TwoLayerReLU(50, 100) (P = 5100) from
    ``model.init(0.1, seed 0)``. "three-layer": ``teacher_student(10, 20, k_star=3, active=3, seed=0)`` and a
    ReLUNet([10, 10, 10, 1]) (L = 3, P = 210) from ``model.init(0.5, seed 0)``."""
    if kind not in RECOGNIZE_CASES:
        raise ValueError(f"recognize_case: unknown kind {kind!r}; use one of {sorted(RECOGNIZE_CASES)}")
    c = RECOGNIZE_CASES[kind]
    model = (ReLUNet([c["d"]] + [c["width"]] * (c["layers"] - 1) + [1]) if "layers" in c
             else TwoLayerReLU(c["d"], c["width"]))
    data = teacher_student(c["d"], c["n"], k_star=3, active=3, seed=c["seed"]).train
    return model, model.init(c["init"], torch.Generator().manual_seed(c["seed"])), data


def run_snapshots(model, theta0, data, norm, *, stages, max_seconds):
    """``integrate`` runs with ``RidgeStep(h)`` for each stage (h, log10 L target) of ``stages`` in turn, each
    starting from the previous stage's final parameters (an h schedule shrinking with depth), keeping every
    accepted step. Returns dict(depth = log10(1/L) per snapshot, params = list of parameter blocks per snapshot,
    status of the last stage, seconds, steps)."""
    t0, depth, params, steps, theta, status = time.perf_counter(), [], [], 0, theta0, "success"
    for h, log10_target in stages:
        tr = integrate(model, theta, data, norm=norm, step=RidgeStep(h), target_log_loss=log10_target * math.log(10),
                       max_seconds=max_seconds, snapshot_every=1, margin_norms=())
        depth += [-float(tr.log10_loss[i]) for i, _ in tr.snapshots]
        params += [p for _, p in tr.snapshots]
        steps, theta, status = steps + int(tr.info["steps"]), tr.params, tr.status
        if status != "success":
            break
    return dict(depth=np.asarray(depth), params=params, status=status, seconds=time.perf_counter() - t0,
                steps=steps)


def feasible_average(params_list, data, model):
    """(1/k) sum_k theta~_k with theta~_k = theta_k / q_min(theta_k)^(1/L) (``kc.feasible_rescaling``): the mean
    of the iterates' points on the feasible boundary of (MM), blockwise. Every theta~_k has min_i q_i = 1, so the
    average is a point of the same scale (no iterate dominates by its norm)."""
    if not params_list:
        raise ValueError("feasible_average needs at least one parameter state")
    tildes = []
    for p in params_list:
        q_min = float(kc.sample_margins(p, data, model=model).min())
        tildes.append(kc.feasible_rescaling(p, q_min, model.degree)[0])
    return [sum(t[b] for t in tildes) / len(tildes) for b in range(len(tildes[0]))]


def residuals(theta, data, model, norms=NORMS, *, time_limit=60.0) -> dict:
    """{norm: kc.residual(theta, data, model=model, norm=norm, pair=False)} (the measure only, no (eps, delta) pair)."""
    return {nm: kc.residual(theta, data, model=model, norm=nm, pair=False, time_limit=time_limit) for nm in norms}


def measures(theta, data, model, norms=NORMS, *, time_limit=60.0) -> dict:
    """{norm: M}: the ``kc.residual`` measure (an upper bound from a certificate) in each norm."""
    return {nm: float(r.measure) for nm, r in residuals(theta, data, model, norms, time_limit=time_limit).items()}


def verdict_word(res, tol) -> str:
    """The head of ``res.verdict(tol)``: "approximately KKT" (measure <= tol), "not KKT" (above tol, certified by
    an optimal program or a certified lower bound) or "could not decide"."""
    line = res.verdict(tol)
    return next((w for w in ("approximately KKT", "not KKT") if line.startswith(w)), "could not decide")


@lru_cache(maxsize=16)
def recognized_measures(kind, norm, stages, window, max_seconds):
    """The run of ``norm`` on ``recognize_case(kind)`` through ``stages``; at its final iterate ("final") and at the
    average of its last ``window`` feasible rescalings ("averaged"): M in l2, linf, l1 and kc.residual's verdict at
    tol = TARGET_OF[norm] ("final_verdicts", "averaged_verdicts"); a spectral run also in the spectral norm."""
    model, th0, data = recognize_case(kind)
    norms = NORMS if norm in NORMS else (norm,) + NORMS
    run = run_snapshots(model, th0, data, norm, stages=stages, max_seconds=max_seconds)
    out = dict(depth=float(run["depth"][-1]), status=run["status"], seconds=run["seconds"], steps=run["steps"])
    averaged = feasible_average(run["params"][-window:], data, model)
    for key, theta in (("final", run["params"][-1]), ("averaged", averaged)):
        res = residuals(theta, data, model, norms)
        out[key] = {nm: float(r.measure) for nm, r in res.items()}
        out[key + "_verdicts"] = {nm: verdict_word(r, TARGET_OF[norm]) for nm, r in res.items()}
    return out


def check_kkt_recognized(norm="l2", *, kind="tiny", claimed=None, shallow=False, averaged=False, stages=None,
                         window=WINDOW, max_seconds=MAX_SECONDS, not_asserted="") -> CheckResult:
    """Approximately KKT in the claimed norm (default: the run's own) and not KKT in the others, at tol =
    TARGET[run's norm], on ``recognize_case(kind)`` run through ``stages`` (default ``STAGES[kind, norm]``; see the
    module docstring). ``claimed`` != norm and ``shallow`` are the negative controls."""
    own, claim_nm = kc.norm(norm).name, kc.norm(claimed or norm).name
    if own not in ALGO_OF:
        raise ValueError(f"check_kkt_recognized: norm {own!r} has no algorithm here; use one of {sorted(ALGO_OF)}")
    if stages is None and (kind, own) not in STAGES:
        raise ValueError(f"check_kkt_recognized: no default stages for kind {kind!r} and norm {own!r}; pass stages="
                         f"((h, log10 L target), ...) or use one of {sorted(STAGES)}")
    stages = tuple(tuple(map(float, st)) for st in (stages or STAGES[kind, own]))
    if shallow:
        stages = ((stages[0][0], SHALLOW),)
    tol, algo = TARGET_OF[own], ALGO_OF[own]
    got = recognized_measures(kind, own, stages, int(window), float(max_seconds))
    key = "averaged" if averaged else "final"
    m, verdicts = got[key], got[key + "_verdicts"]
    others = {nm: v for nm, v in m.items() if nm != claim_nm}
    ok = verdicts[claim_nm] == "approximately KKT" and all(verdicts[nm] == "not KKT" for nm in others)
    point = f"the average of the last {window} feasible iterates" if averaged else "the final iterate"
    name = (f"thm3.4-kkt-recognized-{kind}-{algo}-{own}" + ("-averaged" if averaged else "")
            + (f"-claimed-{claim_nm}" if claim_nm != own else "") + ("-shallow" if shallow else ""))
    c = RECOGNIZE_CASES[kind]
    sched = ", then ".join(f"RidgeStep({h:g}) to log10 L = {t:g}" for h, t in stages)
    text = (f"{algo} ({own} steepest flow; {sched}) on a {c.get('layers', 2)}-layer teacher-student ReLU net "
            f"(d = {c['d']}, n = {c['n']}, width {c['width']}): kc.residual at {point} says approximately KKT in "
            f"{claim_nm} (M <= {tol:g}) and not KKT in {', '.join(others)} (M > {tol:g})")
    return CheckResult(name, text + ("; " + not_asserted if not_asserted else ""), m[claim_nm], tol, ok,
                       comparison="<=", negative_control=claim_nm != own or shallow,
                       informational=bool(not_asserted) and claim_nm == own and not shallow,
                       evidence=got["status"] == "success" and all(math.isfinite(v) for v in m.values()),
                       definition=f"M_{claim_nm} = kc.residual(...).measure at {point}; also needs the verdict "
                                  f"'not KKT' at tol {tol:g} (certified) in {', '.join(others)}",
                       changed=(f"claimed KKT in {claim_nm}, not the algorithm's {own}" if claim_nm != own else
                                f"the run stopped at log10 L = {SHALLOW:g}, far from the limit" if shallow else ""),
                       detail={"measures": m, "verdicts": verdicts, "final": got["final"], "averaged": got["averaged"],
                               "window": window,
                               "stages": stages, "final_log10_loss": -got["depth"], "run_status": got["status"],
                               "run_seconds": got["seconds"], "run_steps": got["steps"], "algorithm_norm": own,
                               "claimed_norm": claim_nm})


def plot_recognized(rows, path) -> str:
    """Grouped bars, log scale: for each own-norm row (a ``check_kkt_recognized`` result), the measure M at its final
    iterate in l2, linf, l1 (and spectral when a row has it; the own norm hatched) and the row's tol as a black
    tick; "approximately KKT" needs the own bar under the tick and the others above it."""
    import matplotlib.pyplot as plt   # the Agg backend: set by proofs_numeric.plotting
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    shown = [nm for nm in NORMS + ("spectral",) if any(nm in r.detail["final"] for r in rows)]
    width = 0.8 / len(shown)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(rows) + 2), 4.2))
    for i, r in enumerate(rows):
        own = r.detail["algorithm_norm"]
        for j, nm in enumerate(shown):
            if nm in r.detail["final"]:
                ax.bar(i + width * (j - (len(shown) - 1) / 2), max(float(r.detail["final"][nm]), 1e-12),
                       width=0.92 * width, color=f"C{j}", hatch="//" if nm == own else "", edgecolor="black")
        ax.hlines(r.tolerance, i - 0.42, i + 0.42, colors="black", linewidth=2)
    ax.set_xticks(range(len(rows)), [r.name.replace("thm3.4-kkt-recognized-", "") for r in rows], rotation=20,
                  fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("KKT measure M at the final iterate")
    ax.set_title("Theorem 3.4 recognized: kc.residual in each norm (own norm hatched)", fontsize=9)
    ax.grid(True, which="both", axis="y", alpha=0.3)
    ax.set_ylim(top=30.0)
    handles = [Patch(facecolor=f"C{j}", edgecolor="black", label=f"M in {nm}") for j, nm in enumerate(shown)]
    ax.legend(handles=handles + [Line2D([], [], color="black", linewidth=2, label="tol")], fontsize=7,
              loc="upper center", ncol=len(shown) + 1)
    return str(save(fig, path))


__all__ = ["NORMS", "ALGO_OF", "TARGET_OF", "RECOGNIZE_CASES", "STAGES", "WINDOW", "SD_NOT_ASSERTED", "SHALLOW",
           "recognize_case",
           "run_snapshots", "feasible_average", "residuals", "measures", "verdict_word", "recognized_measures",
           "check_kkt_recognized", "plot_recognized"]
