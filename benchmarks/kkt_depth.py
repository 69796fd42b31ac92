"""KKT measure at depth on networks: kc.residual's M along the default late-phase integrator's runs, in the run's
own norm and in the other norms, against the depth log10(1/L) and the step h (or an h schedule: h = 0.05 to
log10 L = -1e5, then a smaller h from there).

M = kc.residual(theta, data, norm=...).measure (docs/kkt.md: 0 exactly at KKT points of min 1/2||theta||^2 s.t.
y_i f(x_i; theta) >= 1, scale-free, 1/2 at lambda = 0). Theorem 3.4: along the steepest flow in a norm, M in that
norm tends to 0 as log L -> -inf. For each case, algorithm (GD l2, sign descent linf, coordinate descent l1) and
step h, one ``flow.integrate`` run with ``RidgeStep(h)`` to the target depth; M in l2, linf and l1 at the
snapshots nearest to log10(1/L) = 1e2, 1e3, 1e4, 1e5 (the per-iterate measure), and of the average of the last 24
feasible rescalings theta~_k = theta_k / q_min^(1/L) (``checks.thm34_recognize_checks.feasible_average``).

Cases (seed 0 unless stated):
  bench  the late-phase benchmark's net: teacher-student d=50, n=64 (3 teacher neurons, 3 active coordinates),
         TwoLayerReLU(50, 100), init model.init(0.1)
  exp    the teacher-student experiment's net: d=30, n=40, width 100, init_params(seed 0, alpha 0.1) (the
         experiment's init; the run starts from it, not from the batched iterate)
  three  the thm34-nets three-layer case: ReLUNet([10, 10, 10, 1]) on teacher-student d=10, n=20, init 0.5
  tiny   the recognition check's case: teacher-student d=3, n=6, TwoLayerReLU(3, 3), seed 1, init 0.5

Run by hand:  cd benchmarks && python kkt_depth.py [--cases bench exp three tiny] [--out ../docs/kkt.md]
(each case's table replaces its own section "## kkt measure at depth: CASE" of --out).
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

import kktcheck as kc
from _docs import replace_section  # benchmarks/_docs.py (scripts run from benchmarks/)
from proofs_numeric import models
from proofs_numeric.checks.thm34_net_checks import net_case
from proofs_numeric.checks.thm34_recognize_checks import (feasible_average, measures, recognize_case,
                                                          run_snapshots)
from proofs_numeric.datasets import teacher_student
from proofs_numeric.experiments.teacher_student import init_params

DEPTHS = (1e2, 1e3, 1e4, 1e5)
WINDOW = 24
ALGO = {"l2": "GD", "linf": "SD", "l1": "CD"}
# (norm, stages) per case; a stage is (h, log10 L target), each continuing from the previous one (an h schedule).
# h = 0.05 is the integrator's default; smaller h to a shallower target, or from the h = 0.05 run's end.
B5, B8, B4 = (0.05, -1e5), (0.05, -1e8), -1e4
PLAN = {"bench": [("l2", (B5,)), ("l2", ((0.0125, B4),)), ("l2", ((0.003125, B4),)), ("l2", (B5, (0.0015625, -1.5e5))),
                  ("linf", (B5,)), ("linf", (B8, (0.003125, -1.5e8))), ("l1", (B5,)), ("l1", (B8, (0.003125, -1.5e8)))],
        "exp": [("l2", (B5,)), ("l2", (B5, (0.0015625, -1.5e5))), ("l2", (B5, (0.00078125, -1.5e5))),
                ("l2", (B8, (0.0015625, -1.5e8))), ("linf", (B5,)), ("linf", (B8, (0.003125, -1.5e8))), ("l1", (B5,)),
                ("l1", (B8, (0.003125, -1.5e8)))],
        "three": [("l2", (B5,)), ("l2", ((0.0125, B4),)), ("l2", ((0.003125, B4),)), ("l2", (B5, (0.0015625, -1.5e5)))],
        "tiny": [("l2", ((0.0125, -1e5),)), ("linf", ((0.0125, -1e5),)), ("linf", ((0.00625, -1e5),)),
                 ("l1", ((0.0125, -1e5),))]}


def make_case(case):
    """(model, theta0, (X, y)) of a case named in the module docstring."""
    if case in ("bench", "tiny"):
        return recognize_case(case)
    if case == "exp":
        X, y, _, _ = teacher_student(30, 40, k_star=3, active=3, seed=0)
        W, a = init_params(0, 100, 30, 0.1)
        return models.TwoLayerReLU(30, 100), [W, a.reshape(1, -1)], (X, y)
    if case == "three":
        return net_case("three-layer", 0)
    raise ValueError(f"unknown case {case!r}; use one of {sorted(PLAN)}")


def one_row(case, norm, stages, seconds):
    model, th0, data = make_case(case)
    run = run_snapshots(model, th0, data, norm, stages=stages, max_seconds=seconds)
    h = " then ".join(f"{h:g}" + (f" (from {-stages[k - 1][1]:g})" if k else "") for k, (h, _) in enumerate(stages))
    depth, row = run["depth"], {"case": case, "norm": norm, "h": h, "status": run["status"], "steps": run["steps"],
                                "seconds": run["seconds"], "final": float(run["depth"][-1]), "at": {}}
    t0 = time.perf_counter()
    for D in DEPTHS:
        if D <= 1.01 * depth[-1]:
            j = int(np.argmin(np.abs(np.log(np.maximum(depth, 1e-300)) - math.log(D))))
            row["at"][D] = (float(depth[j]), measures(run["params"][j], data, model))
    row["end"] = measures(run["params"][-1], data, model)
    row["averaged"] = measures(feasible_average(run["params"][-WINDOW:], data, model), data, model)
    row["measure_seconds"] = time.perf_counter() - t0
    print(row, flush=True)
    return row


def ratio(m, own):
    """M in the own norm over the smallest M in the other norms (< 1: the own norm is the closest to KKT)."""
    return m[own] / min(v for k, v in m.items() if k != own)


def cell(m, own):
    return " / ".join((f"**{v:.3g}**" if k == own else f"{v:.3g}") for k, v in m.items()) if m else "-"


def write(path, case, rows, load):
    lines = [f"`python kkt_depth.py --cases {case}` on {time.strftime('%Y-%m-%d %H:%M')} UTC, 1 thread, 2 shared "
             f"cores, load average {load} at the start. M in l2 / linf / l1 (own norm in bold) at the snapshot "
             "nearest to each depth and at the final iterate ('end'); 'avg' = M of the average of the last 24 feasible "
             "iterates.", "",
             "| algorithm | h | run (status, steps, s) | " + " | ".join(f"log10(1/L) ~ {D:g}" for D in DEPTHS)
             + " | end | avg at the end | own / smallest other (end, avg) |",
             "|---|---|---|" + "---|" * (len(DEPTHS) + 3)]
    for r in rows:
        end = r.get("end") or (r["at"][max(r["at"])][1] if r["at"] else None)
        cells = [cell(r["at"][D][1], r["norm"]) if D in r["at"] else "-" for D in DEPTHS]
        rat = f"{ratio(end, r['norm']):.3g}, {ratio(r['averaged'], r['norm']):.3g}" if end else "-"
        lines.append(f"| {ALGO[r['norm']]} ({r['norm']}) | {r['h']} | {r['status']}, {r['steps']}, "
                     f"{r['seconds']:.0f} (to {-r['final']:.3g}) | " + " | ".join(cells)
                     + f" | {cell(r.get('end'), r['norm'])} | {cell(r['averaged'], r['norm'])} | {rat} |")
    replace_section(path, f"kkt measure at depth: {case}", lines + [""])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(PLAN), choices=list(PLAN))
    ap.add_argument("--seconds", type=float, default=600.0, help="wall-clock budget per run (default 600)")
    ap.add_argument("--out", default="../docs/kkt.md", help="Markdown file; each case's section is replaced")
    args = ap.parse_args(argv)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    with kc.single_threaded():
        for case in args.cases:
            rows = [one_row(case, nm, stages, args.seconds) for nm, stages in PLAN[case]]
            write(args.out, case, rows, load)


if __name__ == "__main__":
    main()
