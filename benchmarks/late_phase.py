"""Late-phase benchmark: a plain constant-lr torch loop (exp loss computed naively) vs flow.integrate.

Teacher-student data (d=50, n=64, k*=3 teacher neurons with 3 active coordinates), a bias-free 2-layer
ReLU student of width 100 (both layers trained, degree 2), init scale 0.1.  For GD (l2), sign descent
(linf) and coordinate descent (l1), each method gets the same wall-clock budget (--seconds) and we report
the log10 L reached, the normalized hard margin in the algorithm's norm, and whether the soft margin was
monotone after L < 1 (largest relative drawdown).  The naive loop uses L = sum exp(-q) and its autograd
gradient: once L underflows (log L < -745) the gradient is exactly 0 and it stops moving.
Its lr is h ||theta_0|| / ||g_0||_*, i.e. the same first step as integrate's RelativeStep(h).

Run by hand:  python benchmarks/late_phase.py [--seconds 60] [--out docs/benchmarks.md]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

import kktcheck as kc
from _docs import replace_section  # benchmarks/_docs.py (scripts run from benchmarks/)
from proofs_numeric import models
from proofs_numeric.checks.flow_checks import max_drawdown
from proofs_numeric.datasets import teacher_student
from proofs_numeric.flow import RelativeStep, integrate

ALGOS = [("GD", "l2"), ("sign descent", "linf"), ("coordinate descent", "l1")]


def data(seed=0, d=50, n=64):
    X, y, _, _ = teacher_student(d, n, k_star=3, active=3, seed=seed)
    return X, y, "teacher_student"


def naive(model, th0, X, y, nrm, seconds, h=0.05):
    params = [p.clone().requires_grad_(True) for p in th0]
    lr, logs, soft, hard, steps = None, [], [], [], 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        q = y * model.apply_params(params, X)
        L = torch.exp(-q).sum()
        g = torch.autograd.grad(L, params)
        with torch.no_grad():
            r = nrm(params)
            lL = math.log(float(L)) if float(L) > 0 else -math.inf
            logs.append(lL)
            soft.append(-lL / r ** 2 if lL < 0 else math.nan)
            hard.append(float(q.min()) / r ** 2)
            gd = nrm.dual(g)
            if lr is None:
                lr = h * r / gd
            for p, u in zip(params, nrm.dualize(g)):
                p.sub_(lr * gd * u)
        steps += 1
    s = np.array(soft)
    s = s[np.isfinite(s) & (s > 0)]
    finite = all(bool(torch.isfinite(p).all()) for p in params)
    status = "ok" if finite and math.isfinite(logs[-1]) else (
        "non-finite parameters" if not finite else "L underflowed to 0 (gradient exactly 0)")
    return {"status": status, "log10L": logs[-1] / math.log(10), "margin": hard[-1], "drawdown": max_drawdown(s) if s.size else math.nan,
            "steps": steps, "finite_soft_to_end": bool(np.isfinite(soft[-1]))}


def flow(model, th0, X, y, norm, seconds, h=0.05):
    tr = integrate(model, th0, (X, y), norm=norm, step=RelativeStep(h), max_steps=10 ** 9,
                   max_seconds=seconds, save_every=5, margin_norms=())
    return {"status": tr.status, "log10L": float(tr.log10_loss[-1]), "margin": float(tr.margin[-1]),
            "drawdown": max_drawdown(tr.after_separation("soft_margin")), "steps": int(tr.info["steps"]),
            "finite_soft_to_end": bool(np.isfinite(tr.soft_margin[-1]))}


def sweep(model, th0, X, y, hs=(0.05, 0.02, 0.01, 0.005, 0.002), target_log10=-300.0, max_steps=20000):
    """Soft-margin drawdown after L < 1 against the relative step h, each run up to log10 L = target_log10:
    the discrete violation of Thm 3.1 should shrink with h (it does for l2; see docs/benchmarks.md for linf)."""
    rows = []
    for _, norm in ALGOS[:2]:
        for h in hs:
            tr = integrate(model, th0, (X, y), norm=norm, step=RelativeStep(h), max_steps=max_steps,
                           target_log_loss=target_log10 * math.log(10), margin_norms=())
            rows.append((norm, h, tr.status, int(tr.info["steps"]), int(tr.info["field_evals"]),
                         float(tr.log10_loss[-1]), max_drawdown(tr.after_separation("soft_margin"))))
            print("sweep", rows[-1], flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="wall-clock budget per run (default 60)")
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file; its 'late phase' section is replaced")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    X, y, source = data(args.seed)
    model = models.TwoLayerReLU(X.shape[1], 100)
    th0 = model.init(0.1, torch.Generator().manual_seed(args.seed))
    rows = []
    for name, norm in ALGOS:
        nrm = kc.norm(norm)
        for method, fn in (("naive torch loop", naive), ("flow.integrate", flow)):
            res = fn(model, th0, X, y, nrm if fn is naive else norm, args.seconds)
            print(name, method, res, flush=True)
            rows.append((name, norm, method, res))
    write(args.out, rows, args.seconds, source, X.shape, sweep(model, th0, X, y))


def write(path, rows, seconds, source, shape, sweep_rows=()):
    lines = [f"`python benchmarks/late_phase.py --seconds {seconds:g}` on {time.strftime('%Y-%m-%d')} (2 shared CPU cores, "
             f"noisy). Data: {source}, X {tuple(shape)}; 2-layer ReLU width 100, init 0.1, exp loss; both "
             f"methods start with the same step (relative 0.05) and get {seconds:g} s each.", "",
             "| algorithm | norm | method | status | steps | log10 L reached | hard margin (own norm) | soft-margin max drawdown | soft margin monotone |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, norm, method, r in rows:
        mono = "n/a" if math.isnan(r["drawdown"]) else ("yes" if r["drawdown"] == 0.0 else "no")
        lines.append(f"| {name} | {norm} | {method} | {r['status']} | {r['steps']} | {r['log10L']:.4g} | {r['margin']:.4g} | "
                     f"{r['drawdown']:.3g} | {mono} |")
    lines += ["", "Drawdown against the relative step (`integrate`, RelativeStep(h), each run to log10 L = -300 or "
              "20,000 steps):", "", "| norm | h | status | steps | field evals | log10 L | soft-margin max drawdown |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {n} | {h:g} | {st} | {k} | {ev} | {ll:.4g} | {dd:.3g} |" for n, h, st, k, ev, ll, dd in sweep_rows]
    lines += [""]
    replace_section(path, "late phase", lines)


if __name__ == "__main__":
    main()
