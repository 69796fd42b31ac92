"""Late-phase benchmark: how deep and how faithfully the default integrator (RidgeStep) runs, against the
old default (explicit RelativeStep with the safeguard).

1. Depth race. Teacher-student data (d=50, n=64, k*=3 teacher neurons with 3 active coordinates), a bias-free
   two-layer ReLU student of width 100 (both layers trained, degree 2), init scale 0.1, exp loss, 1 torch thread.
   For GD (l2), sign descent (linf) and coordinate descent (l1): wall time to log10 L <= --depth (default -1e5)
   within --seconds, the own-norm hard margin reached, and the largest relative drawdown of the soft margin after
   L < 1 (Theorem 3.1 says the flow's is 0; a discrete run shows its O(h) violation).
2. Linear flows (n=40, d=15): wall time until the normalized margin is within 1e-3 of the exact max-margin of
   kktcheck.max_margin_linear, for l1, l2, linf.
3. Depth 1e300 on the linear model and on the race's net (RidgeStep(0.5)): every recorded number must stay finite;
   past float64 (log log(1/L) = 1000 linear, 1500 on the net, ||theta|| > 1.8e308) with every log-scale record finite.
4. Cost per accepted explicit step of ``integrate`` (closed-form field of TwoLayerReLU, RelativeStep(0.01),
   l2 and linf, 300 steps, recording only the last state) against a hand-written numpy loop of the same
   normalized steepest step (target: at most 2x).

Run by hand:  python benchmarks/late_phase.py [--seconds 60] [--out docs/benchmarks.md]
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch

import kktcheck as kc
from _docs import replace_section  # benchmarks/_docs.py (scripts run from benchmarks/)
from proofs_numeric import models
from proofs_numeric.checks.flow_checks import max_drawdown
from proofs_numeric.datasets import linearly_separable, teacher_student
from proofs_numeric.flow import RelativeStep, RidgeStep, integrate, late_phase

ALGOS = [("GD", "l2"), ("sign descent", "linf"), ("coordinate descent", "l1")]
LN10 = math.log(10)


class ProgramClock:
    """Where a run's time goes: RidgeStep solves its programs through ``flow.late_phase.ridge_step``; this wraps it
    (and restores it on exit) to add up the wall seconds, the calls and their LP rounds (column generation)."""

    def __enter__(self):
        self.inner, self.seconds, self.calls, self.rounds = late_phase.ridge_step, 0.0, 0, 0

        def timed(*args, **kwargs):
            t = time.perf_counter()
            sol = self.inner(*args, **kwargs)
            self.seconds, self.calls, self.rounds = self.seconds + time.perf_counter() - t, self.calls + 1, self.rounds + sol.rounds
            return sol

        late_phase.ridge_step = timed
        return self

    def __exit__(self, *exc):
        late_phase.ridge_step = self.inner


def _run(model, th0, data, norm, step, depth, seconds, **kw):
    t, cpu = time.perf_counter(), time.process_time()
    with ProgramClock() as clock:
        tr = integrate(model, th0, data, norm=norm, step=step, target_log_loss=depth * LN10, max_seconds=seconds,
                       margin_norms=(), save_every=1, **kw)
    soft = tr.after_separation("soft_margin")
    return {"status": tr.status, "seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu,
            "programs": (clock.seconds, clock.calls, clock.rounds), "steps": int(tr.info["steps"]),
            "ridge": int(tr.info.get("ridge_steps", 0)), "log10L": float(tr.log10_loss[-1]),
            "margin": float(tr.margin[-1]), "drawdown": max_drawdown(soft) if soft.size else math.nan,
            "finite": bool(np.all(np.isfinite(tr.log_loss)) and np.all(np.isfinite(tr.margin)))}


def depth_race(seconds, depth, seed=0):
    X, y, _, _ = teacher_student(50, 64, k_star=3, active=3, seed=seed)
    model = models.TwoLayerReLU(50, 100)
    th0 = model.init(0.1, torch.Generator().manual_seed(seed))
    rows = []
    for name, norm in ALGOS:
        for label, step in (("RidgeStep(0.05) (default)", RidgeStep(0.05)), ("RelativeStep(0.05) (old)", RelativeStep(0.05))):
            r = _run(model, th0, (X, y), norm, step, depth, seconds)
            print(name, label, r, flush=True)
            rows.append((name, norm, label, r))
    return rows


def linear_flows(seconds=30.0, seed=0):
    X, y = linearly_separable(40, 15, seed=seed, margin=0.1)
    model = models.Linear(15)
    th0 = model.init(0.1, torch.Generator().manual_seed(seed))
    rows = []
    for norm in ("l1", "l2", "linf"):
        exact = kc.max_margin_linear(X.numpy(), y.numpy(), norm=norm).margin
        start, reached = time.perf_counter(), None
        for depth in (-1e2, -1e3, -1e4, -1e5):
            tr = integrate(model, th0, (X, y), norm=norm, target_log_loss=depth * LN10, max_seconds=seconds,
                           margin_norms=())
            gap = abs(float(tr.margin[-1]) - exact) / exact
            if gap <= 1e-3:
                reached = (depth, time.perf_counter() - start, gap)
                break
        rows.append((norm, exact, reached, gap))
        print("linear", norm, rows[-1], flush=True)
    return rows


def depth_1e300(seconds=120.0, seed=0):
    X, y = linearly_separable(40, 15, seed=seed, margin=0.1)
    model = models.Linear(15)
    th0 = model.init(0.1, torch.Generator().manual_seed(seed))
    r = _run(model, th0, (X, y), "linf", RidgeStep(0.5), -1e300, seconds)
    print("1e300", r, flush=True)
    return r


def depth_1e300_net(seconds=120.0, seed=0):
    """The depth race's net (teacher-student d=50, n=64, width 100) to log10 L = -1e300 with RidgeStep(0.5)."""
    X, y, _, _ = teacher_student(50, 64, k_star=3, active=3, seed=seed)
    model = models.TwoLayerReLU(50, 100)
    th0 = model.init(0.1, torch.Generator().manual_seed(seed))
    rows = []
    for name, norm in ALGOS:
        r = _run(model, th0, (X, y), norm, RidgeStep(0.5), -1e300, seconds)
        rows.append((name, norm, r))
        print("1e300 net", name, r, flush=True)
    return rows


def beyond_float64(seconds=120.0, seed=0):
    """Past float64 (the log-scale frame theta = 2^e P): the linear model (linf) to log log(1/L) = 1000 and the race's
    net (GD, l2) to 1500 (||theta|| ~ e^750 > 1.8e308), RidgeStep(0.5): wall time and whether every log-scale record
    (log ||theta||, log log(1/L), log s, margins) is finite after the fit."""
    X, y = linearly_separable(40, 15, seed=seed, margin=0.1)
    Xn, yn, _, _ = teacher_student(50, 64, k_star=3, active=3, seed=seed)
    cases = [("linear, linf", models.Linear(15), (X, y), "linf", 1000.0),
             ("two-layer ReLU net, GD", models.TwoLayerReLU(50, 100), (Xn, yn), "l2", 1500.0)]
    rows = []
    for label, model, data, norm, depth in cases:
        th0 = model.init(0.1, torch.Generator().manual_seed(seed))
        t = time.perf_counter()
        with kc.single_threaded():
            tr = integrate(model, th0, data, norm=norm, step=RidgeStep(0.5), target_log_depth=depth,
                           max_seconds=seconds, margin_norms=())
        i0 = tr.t0_index or 0
        finite = all(bool(np.all(np.isfinite(a[i0:]))) for a in (tr.log_theta_norm, tr.log_depth, tr.log_s,
                                                                  tr.margin, tr.soft_margin))
        rows.append((label, tr.status, time.perf_counter() - t, int(tr.info["steps"]), float(tr.log_depth[-1]),
                     float(tr.log_theta_norm[-1]), finite))
        print("beyond float64", rows[-1], flush=True)
    return rows


def _numpy_loop(X, y, W, a, norm, steps, h=0.01):
    """The reference: theta <- theta - h ||theta|| dualize(G) with G = grad log L (exp loss), numpy, closed form."""
    from scipy.special import logsumexp, softmax
    for _ in range(steps):
        H = X @ W.T
        act = np.maximum(H, 0.0)
        q = y * (act @ a)
        c = -softmax(-q) * y
        gW, ga = ((c[:, None] * a) * (H > 0)).T @ X, c @ act
        g = np.concatenate([gW.ravel(), ga])
        th = np.concatenate([W.ravel(), a])
        if norm == "l2":
            th = th - h * np.linalg.norm(th) * g / np.linalg.norm(g)
        else:
            th = th - h * np.abs(th).max() * np.sign(g)
        W, a = th[:W.size].reshape(W.shape), th[W.size:]
        logsumexp(-q)
    return W, a


def step_cost(steps=300, seed=0):
    X, y, _, _ = teacher_student(50, 64, k_star=3, active=3, seed=seed)
    model = models.TwoLayerReLU(50, 100)
    th0 = model.init(0.1, torch.Generator().manual_seed(seed))
    rows = []
    for norm in ("l2", "linf"):
        t = time.perf_counter()
        tr = integrate(model, th0, (X, y), norm=norm, step=RelativeStep(0.01, backtrack=False), max_steps=steps,
                       margin_norms=(), save_every=steps)
        engine = (time.perf_counter() - t) / max(int(tr.info["steps"]), 1)
        t = time.perf_counter()
        _numpy_loop(X.numpy(), y.numpy(), th0[0].numpy(), th0[1].numpy()[0], norm, steps)
        ref = (time.perf_counter() - t) / steps
        rows.append((norm, engine * 1e3, ref * 1e3, engine / ref))
        print("step cost", rows[-1], flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="wall-clock budget per run (default 60)")
    ap.add_argument("--depth", type=float, default=-1e5, help="target log10 L of the race (default -1e5)")
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file; its 'late phase' section is replaced")
    args = ap.parse_args(argv)
    args.load = [os.getloadavg()[0]]
    with kc.single_threaded():         # one torch and one BLAS thread for the engine AND the numpy reference loop
        race = depth_race(args.seconds, args.depth)
        lin = linear_flows()
        deep = depth_1e300(2 * args.seconds)
        deep_net = depth_1e300_net(2 * args.seconds)
        beyond = beyond_float64(2 * args.seconds)
        cost = step_cost()
    args.load.append(os.getloadavg()[0])
    write(args.out, args, race, lin, deep, cost, deep_net, beyond)


def _programs(r):
    seconds, calls, rounds = r["programs"]
    return f"{seconds:.1f} ({calls}, {rounds})" if calls else "-"


def write(path, args, race, lin, deep, cost, deep_net, beyond):
    lines = [f"`python benchmarks/late_phase.py --seconds {args.seconds:g}` on {time.strftime('%Y-%m-%d %H:%M')} UTC, "
             f"1 torch thread, 2 cores shared with other jobs: 1-min load average {args.load[0]:.1f} at the start, "
             f"{args.load[1]:.1f} at the end (wall times are upper bounds; the CPU seconds of the process move less with "
             "the load). Teacher-student d=50, n=64, two-layer ReLU width 100, init 0.1, exp loss; target log10 L <= "
             f"{args.depth:g}, budget {args.seconds:g} s per run. Ridge programs: wall seconds inside "
             "`flow.ridge.ridge_step` (solves, LP rounds of the l1/linf column generation).", "",
             "| algorithm | norm | step rule | status | wall s | CPU s | ridge programs s (solves, LP rounds) | steps (ridge) | log10 L reached | own-norm hard margin | soft-margin drawdown |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, norm, label, r in race:
        lines.append(f"| {name} | {norm} | {label} | {r['status']} | {r['seconds']:.1f} | {r['cpu']:.1f} | {_programs(r)} | "
                     f"{r['steps']} ({r['ridge']}) | {r['log10L']:.4g} | {r['margin']:.4g} | {r['drawdown']:.3g} |")
    lines += ["", "Linear flows (n=40, d=15, default integrator): first depth at which the normalized margin is "
              "within 1e-3 of the exact max-margin, and the wall time to get there.", "",
              "| norm | exact max-margin | depth log10 L | wall s | relative gap |", "|---|---|---|---|---|"]
    for norm, exact, reached, gap in lin:
        lines.append(f"| {norm} | {exact:.6g} | " + (f"{reached[0]:g} | {reached[1]:.1f} | {reached[2]:.2e} |"
                                                     if reached else f"not reached | - | {gap:.2e} |"))
    lines += ["", f"Depth 1e300 (linear model, linf, RidgeStep(0.5)): status {deep['status']}, "
              f"log10 L = {deep['log10L']:.4g} in {deep['seconds']:.1f} s and {deep['steps']} steps; every recorded "
              f"number finite: {deep['finite']}.", "",
              "Depth 1e300 on the race's net (RidgeStep(0.5), budget 2x --seconds):", "",
              "| algorithm | norm | status | wall s | CPU s | ridge programs s (solves, LP rounds) | steps | log10 L reached | every recorded number finite |",
              "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {name} | {norm} | {r['status']} | {r['seconds']:.1f} | {r['cpu']:.1f} | {_programs(r)} | {r['steps']} | "
              f"{r['log10L']:.4g} | {r['finite']} |" for name, norm, r in deep_net]
    lines += ["", "Past float64 (log-scale frame theta = 2^e P, RidgeStep(0.5), budget 2x --seconds): log log(1/L) "
              "reached (1000 is log10 L = -10^433.9) and log ||theta|| (709.78 is 1.8e308):", "",
              "| case | status | wall s | steps | log log(1/L) | log ‖θ‖ | every log-scale record finite |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {c} | {st} | {sec:.1f} | {k} | {d:.1f} | {ln:.1f} | {fin} |" for c, st, sec, k, d, ln, fin in beyond]
    lines += ["",
              "Cost per accepted explicit step (RelativeStep(0.01), 300 steps, closed-form TwoLayerReLU field) "
              "against a hand-written numpy loop of the same step:", "",
              "| norm | integrate ms/step | numpy loop ms/step | ratio (target <= 2) |", "|---|---|---|---|"]
    lines += [f"| {n} | {e:.3f} | {r:.3f} | {q:.2f} |" for n, e, r, q in cost] + [""]
    replace_section(path, "late phase", lines)


if __name__ == "__main__":
    main()
