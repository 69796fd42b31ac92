"""Fig. 1 at depth: GD and SD continued from their final batched iterate to log10 L = -1e4 by the late-phase engine.

The batched runs end near log L = -200 (quick) to -400; the theorems speak of the limit. Each GD (l2) and SD
(l_inf) run of the first ``n_seeds`` seeds at the largest init scale is continued by ``flow.integrate`` with the
late-phase rule ``RidgeStep(0.05)`` (exp loss, the same data and student) to log10 L = ``DEPTH``. Measured at the
end, in the hard normalized margin gamma_bar_p = min_i y_i f(x_i) / ||theta||_p^2:

* claim ``own-margin-at-depth``: GD ends with the larger gamma_bar_2 AND SD with the larger gamma_bar_inf of the pair
  (per seed; the fraction of seeds must reach SEED_FRAC = 0.8, the teacher-student bar). Control: the roles
  swapped (GD owning l_inf, SD owning l2), which must fail;
* table: per run the depth reached, the steps and seconds, the margins in l1 / l2 / l_inf, and the largest
  relative drawdown of the own-norm soft margin log(1/L) / ||theta||^2 over the continuation (Theorem 3.1: 0 for
  the flow; the integrator's O(h) error for the discrete path, docs/flow.md).

Coordinate descent is not continued: on this net the late-phase integrator takes 120 s to go from log L = -147 to
log10 L = -957 (measured 2026-11-29), far from -1e4 (docs/benchmarks.md, "late phase").
Continuations are cached in the experiment's RunCache (keyed by the run's configuration, DEPTH and h).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..results import CheckResult
from ._seeds import SEED_FRAC, mean_se, wilson

DEPTH, H, MAX_SECONDS = -1e4, 0.05, 120.0
ALGOS = {"GD": "l2", "SD": "linf"}


def continue_run(r: dict, C: dict) -> dict:
    """One continuation (see the module docstring); JSON-ready."""
    from ..datasets.teacher_student import teacher_student
    from ..flow import RidgeStep, integrate
    from ..models import TwoLayerReLU
    ds = teacher_student(C["d"], C["n"], k_star=C["k_star"], active=C["active"], seed=r["seed"])
    theta = [torch.tensor(r["W"], dtype=torch.float64), torch.tensor(r["a"], dtype=torch.float64).reshape(1, -1)]
    tr = integrate(TwoLayerReLU(C["d"], C["width"]), theta, ds.train, norm=ALGOS[r["algo"]], step=RidgeStep(H),
                   target_log_loss=DEPTH * math.log(10), max_seconds=MAX_SECONDS)
    soft = tr.after_separation("soft_margin")
    peak = np.maximum.accumulate(soft)
    drawdown = float(np.max((peak - soft) / peak)) if soft.size > 1 else math.nan
    return {"status": tr.status, "log10_loss": float(tr.log10_loss[-1]), "steps": int(tr.info["steps"]),
            "seconds": float(tr.info["wall_time"]), "drawdown": drawdown,
            "margins": {p: float(v[-1]) for p, v in tr.margins.items()}}


def depth_runs(runs: list, C: dict, cache, n_seeds: int) -> dict:
    """{(seed, algo): continuation} for GD and SD of the first n_seeds seeds at the largest alpha (cached)."""
    alpha = max(C["alphas"])
    seeds = sorted({r["seed"] for r in runs})[:n_seeds]
    out = {}
    for r in runs:
        if r["alpha"] == alpha and r["seed"] in seeds and r["switch"] is None and r["algo"] in ALGOS:
            cfg = {k: r[k] for k in ("d", "n", "width", "steps", "lr", "seed", "alpha", "algo")}
            cfg.update(kind="depth", depth=DEPTH, h=H, max_seconds=MAX_SECONDS)
            got = cache.load(cfg, _validate)
            if got is None:
                got = continue_run(r, C)
                cache.save(cfg, got)
            out[(r["seed"], r["algo"])] = got
    return out


def _validate(d: dict) -> None:
    missing = [k for k in ("status", "log10_loss", "margins", "drawdown") if k not in d]
    if missing:
        raise ValueError(f"a depth continuation without {missing}")


def own_margin_at_depth(deep: dict, negative: bool = False) -> CheckResult:
    """Per seed with both runs at the target depth: GD has the larger l2 margin and SD the larger linf margin (the
    control swaps the owners)."""
    owner = {"l2": "SD", "linf": "GD"} if negative else {"l2": "GD", "linf": "SD"}
    wins = []
    for s in sorted({s for s, _ in deep}):
        pair = {a: deep.get((s, a)) for a in ALGOS}
        if any(v is None or v["status"] != "success" for v in pair.values()):
            continue
        wins.append(all(max(pair, key=lambda a: pair[a]["margins"][p]) == owner[p] for p in owner))
    frac = float(np.mean(wins)) if wins else math.nan
    lo, hi = wilson(sum(wins), len(wins))
    tag = "(negative control: owners swapped) " if negative else ""
    return CheckResult("own-margin-at-depth" + ("-control" if negative else ""),
                       f"{tag}at log10 L = {DEPTH:g} (late-phase continuation of the batched runs), "
                       f"{owner['l2']} has the larger gamma_bar_2 and {owner['linf']} the larger gamma_bar_inf, in >= "
                       f"{SEED_FRAC:g} of the seeds [{sum(wins)}/{len(wins)}, 95% Wilson [{lo:.2f}, {hi:.2f}]]",
                       frac, SEED_FRAC, bool(wins) and frac >= SEED_FRAC, ">=", {"seeds": len(wins)},
                       negative_control=negative, evidence=bool(wins),
                       definition="fraction of seeds (GD and SD both reached the depth) where the named owners win "
                                  "both norms", changed="the owners of l2 and linf swapped" if negative else "")


def depth_table(deep: dict) -> list:
    rows = [{"run": f"{a} seed {s}", "status": v["status"], "log10 L": f"{v['log10_loss']:.4g}", "steps": v["steps"],
             "seconds": f"{v['seconds']:.1f}", **{f"gamma_bar_{p}": f"{v['margins'][p]:.4g}" for p in ("l1", "l2", "linf")},
             "own soft-margin drawdown": f"{v['drawdown']:.3g}"} for (s, a), v in sorted(deep.items())]
    for a in ALGOS:
        m, se = mean_se([v["drawdown"] for (s, b), v in deep.items() if b == a])
        rows.append({"run": f"{a}: drawdown mean +- SE", "own soft-margin drawdown": f"{m:.3g} +- {se:.2g}"})
    return rows


__all__ = ["DEPTH", "H", "continue_run", "depth_runs", "own_margin_at_depth", "depth_table"]
