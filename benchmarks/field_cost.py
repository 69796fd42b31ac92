"""Cost of the per-run field's parts on the late-phase benchmark's net, and of one accepted explicit step of
``integrate`` against the hand-written numpy loop of benchmarks/late_phase.py (part 4 there; target <= 2x).

Teacher-student d=50, n=64, TwoLayerReLU width 100, init 0.1, exp loss, 1 thread. Each number is the best of 7
repetitions (min: the least disturbed by other processes; the median is printed too); the load average is printed,
since on a shared 2-core machine it moves every number.

Run by hand:  python benchmarks/field_cost.py   (from the repository root or benchmarks/)
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import torch

import kktcheck as kc
from proofs_numeric import models
from proofs_numeric.datasets import teacher_student
from proofs_numeric.flow import RelativeStep, integrate
from proofs_numeric.losses import eval_log_loss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from late_phase import _numpy_loop  # noqa: E402  (the benchmark's reference loop, one definition)


def timed(f, reps=7, inner=1):
    """(best, median) seconds per call of f over ``reps`` repetitions of ``inner`` calls."""
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(inner):
            f()
        ts.append((time.perf_counter() - t) / inner)
    return min(ts), statistics.median(ts)


def main(steps=300):
    X, y, _, _ = teacher_student(50, 64, k_star=3, active=3, seed=0)
    model = models.TwoLayerReLU(50, 100)
    th0 = model.init(0.1, torch.Generator().manual_seed(0))
    with kc.single_threaded(), torch.no_grad():
        G = eval_log_loss(model, th0, X, y)[1]
        parts = {"eval_log_loss": lambda: eval_log_loss(model, th0, X, y),
                 "l2 dual_and_dualize": lambda: kc.norm("l2").dual_and_dualize(G),
                 "linf dual_and_dualize": lambda: kc.norm("linf").dual_and_dualize(G),
                 "l2 norm value": lambda: kc.norm("l2")(th0)}
        for name, f in parts.items():
            best, med = timed(f, inner=200)
            print(f"{name}: {best * 1e6:.0f} us (median {med * 1e6:.0f})")
    with kc.single_threaded():
        for norm in ("l2", "linf"):
            eng = timed(lambda: integrate(model, th0, (X, y), norm=norm, step=RelativeStep(0.01, backtrack=False),
                                          max_steps=steps, margin_norms=(), save_every=steps), reps=5)
            ref = timed(lambda: _numpy_loop(X.numpy(), y.numpy(), th0[0].numpy(), th0[1].numpy()[0], norm, steps),
                        reps=5)
            print(f"{norm}: integrate {eng[0] / steps * 1e3:.3f} ms/step, numpy loop {ref[0] / steps * 1e3:.3f} "
                  f"ms/step, ratio {eng[0] / ref[0]:.2f} (medians: {eng[1] / ref[1]:.2f})")
    print("load average", " ".join(f"{v:.1f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
