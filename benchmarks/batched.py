"""Batched training benchmark: S seeds in one ``train_batched`` call vs a per-seed loop.

Teacher-student data (d = 50, n = 64, k* = 3, 3 active coordinates), bias-free 2-layer ReLU students of width
100, init N(0, 0.1^2), exponential loss, the step rule of proofs_numeric/experiments/batched.py (c = 0.1,
h = 0.05). For GD, CD and SD: 20 seeds, each trained ``--steps`` steps by
* the per-run loop (``tests/oracles/batched_loop_oracle.train_loop``: TwoLayerReLU, autograd, proofs_numeric.optim optimizer), and
* the batched engine (``flow.batched`` through ``train_batched``: stacked tensors, no loop over seeds),
reporting steps/s per seed for both, the speed-up, and the max abs difference of the final parameters
(relative: divided by max |theta|). Both record the same 60 log-spaced points.

Run by hand:  python benchmarks/batched.py [--steps 300] [--threads 1] [--out docs/benchmarks.md]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

from _docs import replace_section  # benchmarks/_docs.py (scripts run from benchmarks/)
from proofs_numeric.datasets import teacher_student
from proofs_numeric.experiments.batched import train_batched
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "oracles"))
from batched_loop_oracle import train_loop  # noqa: E402 - the test oracle lives under tests/
from proofs_numeric.experiments.teacher_student import init_params

D, N, WIDTH, SEEDS, ALPHA = 50, 64, 100, 20, 0.1
LR = {"GD": 0.1, "CD": 0.1, "SD": 0.1}
REPEATS = 5   # each time is the best of REPEATS interleaved runs (timeit: the minimum is the least disturbed)


def timed(fn):
    """(fn(), wall time of the call)."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench(algo: str, steps: int) -> dict:
    data = [teacher_student(D, N, k_star=3, active=3, seed=s) for s in range(SEEDS)]
    inits = [init_params(s, WIDTH, D, ALPHA) for s in range(SEEDS)]
    W0, a0 = torch.stack([w for w, _ in inits]), torch.stack([a for _, a in inits])
    X, y = torch.stack([ds.X for ds in data]), torch.stack([ds.y for ds in data])
    loops, t_loop, br, t_batch = None, float("inf"), None, float("inf")
    for _ in range(REPEATS):   # interleaved, so both engines see the same periods of machine noise
        loops, t = timed(lambda: [train_loop(W0[s], a0[s], X[s], y[s], algo, lr=LR, steps=steps)
                                  for s in range(SEEDS)])
        t_loop = min(t_loop, t)
        br, t = timed(lambda: train_batched(W0, a0, X, y, [algo] * SEEDS, lr=LR, steps=steps))
        t_batch = min(t_batch, t)
    diff = max(max(float((r["W"] - br.W[s]).abs().max()), float((r["a"] - br.a[s]).abs().max()))
               for s, r in enumerate(loops))
    top = max(float(br.W.abs().max()), float(br.a.abs().max()))
    return {"algo": algo, "loop": steps / (t_loop / SEEDS), "batched": steps / (t_batch / SEEDS), "t_loop": t_loop, "t_batch": t_batch, "diff": diff,
            "rel": diff / top, "log_loss": float(br.log_loss[:, -1].mean()), "fit": int((br.fit_step >= 0).sum())}


def write(path, rows, steps, threads):
    lines = [f"`python benchmarks/batched.py --steps {steps} --threads {threads}` on {time.strftime('%Y-%m-%d')} "
             f"({platform.machine()}, {threads} torch thread(s); each time is the best of {REPEATS} runs; load "
             f"average {os.getloadavg()[0]:.1f} at the end on {os.cpu_count()} cores). "
             f"Teacher-student d = {D}, n = {N}, width {WIDTH}, init {ALPHA}, {SEEDS} seeds, {steps} steps per "
             "seed. Steps/s per seed = steps / (wall time / seeds): the per-run loop trains the seeds one after "
             "the other, the batched engine all at once.", "",
             "| algorithm | loop steps/s per seed | batched steps/s per seed | speed-up | max abs diff of final params | "
             "relative to max abs param | runs at 100% train acc | mean final log L |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['algo']} | {r['loop']:.0f} | {r['batched']:.0f} | {r['batched'] / r['loop']:.1f}x | "
                     f"{r['diff']:.2g} | {r['rel']:.2g} | {r['fit']}/{SEEDS} | {r['log_loss']:.3g} |")
    lines += ["", "Speed-up target 5x; agreement target 1e-12 (relative column). CD trajectories amplify rounding "
              "differences once they zig-zag at ReLU kinks, so agreement is measured over a few hundred steps.", ""]
    replace_section(path, "batched training", lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file; its 'batched training' section is replaced")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for algo in ("GD", "CD", "SD"):
        rows.append(bench(algo, args.steps))
        print(rows[-1], flush=True)
    write(args.out, rows, args.steps, args.threads)


if __name__ == "__main__":
    main()
