"""Fig. 1 at depth: GD, SD and CD continued from their final batched iterate to log10 L = -1e4 by the late-phase engine.

The batched runs end near log L = -200 (quick) to -400; the theorems speak of the limit. Each GD (l2), SD
(l_inf) and CD (l1) run of the first ``n_seeds`` seeds at the largest init scale is continued by
``flow.integrate`` with the late-phase rule ``RidgeStep(0.05)`` (exp loss, the same data and student; for CD
the ridge step cuts the concave ReLU kinks it crosses, docs/flow.md) to log10 L = ``DEPTH``. Measured at the
end, in the hard normalized margin gamma_bar_p = min_i y_i f(x_i) / ||theta||_p^2:

* claim ``own-margin-at-depth``: GD ends with the largest gamma_bar_2, SD with the largest gamma_bar_inf AND CD
  with the largest gamma_bar_1 of the three (per seed with all three at the depth; the fraction of seeds must
  reach SEED_FRAC = 0.8, the teacher-student bar). Control: the owners rotated (GD owning l_inf, SD l1, CD l2),
  which must fail;
* table: per run the depth reached, the steps and seconds, the margins in l1 / l2 / l_inf, and the largest
  relative drawdown of the own-norm soft margin log(1/L) / ||theta||^2 over the continuation (Theorem 3.1: 0 for
  the flow; the integrator's O(h) error for the discrete path, docs/flow.md).

Continuations are cached in the experiment's RunCache (keyed by the run's configuration, DEPTH, h and
INTEGRATOR, the late-phase rule's version: 3 = with kink cuts (linf cut below a 50% gain ratio) and warm-started columns;
4 = the per-run loss weights in the form exp(log|l'(q)| - log L) shared with the batched field, a rounding change).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..results import CheckResult
from ._seeds import SEED_FRAC, mean_se, wilson

DEPTH, H, MAX_SECONDS, INTEGRATOR = -1e4, 0.05, 120.0, 4
ALGOS = {"GD": "l2", "SD": "linf", "CD": "l1"}
OWNERS = {"l2": "GD", "linf": "SD", "l1": "CD"}
ROTATED = {"l2": "CD", "linf": "GD", "l1": "SD"}


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
            "margins": {p: float(v[-1]) for p, v in tr.margins.items()},
            "W": tr.params[0].tolist(), "a": tr.params[1].reshape(-1).tolist()}


def as_runs(deep: dict, C: dict) -> list:
    """The continuations' final iterates in the batched runs' record form (the fields the KKT table reads), for
    the runs that reached the depth."""
    alpha = max(C["alphas"])
    return [{"algo": a, "seed": s, "alpha": alpha, "switch": None, "W": v["W"], "a": v["a"], "fit_step": 0,
             "log_loss": [v["log10_loss"] * math.log(10)]}
            for (s, a), v in sorted(deep.items()) if v["status"] == "success" and "W" in v]


def depth_runs(runs: list, C: dict, cache, n_seeds: int) -> dict:
    """{(seed, algo): continuation} for GD, SD and CD of the first n_seeds seeds at the largest alpha (cached)."""
    alpha = max(C["alphas"])
    seeds = sorted({r["seed"] for r in runs})[:n_seeds]
    out = {}
    for r in runs:
        if r["alpha"] == alpha and r["seed"] in seeds and r["switch"] is None and r["algo"] in ALGOS:
            cfg = {k: r[k] for k in ("d", "n", "width", "steps", "lr", "seed", "alpha", "algo")}
            cfg.update(kind="depth", depth=DEPTH, h=H, max_seconds=MAX_SECONDS, integrator=INTEGRATOR)
            got = cache.load(cfg, _validate)
            if got is None:
                got = continue_run(r, C)
                cache.save(cfg, got)
            out[(r["seed"], r["algo"])] = got
    return out


def _validate(d: dict) -> None:
    missing = [k for k in ("status", "log10_loss", "margins", "drawdown", "W", "a") if k not in d]
    if missing:
        raise ValueError(f"a depth continuation without {missing}")


def own_margin_at_depth(deep: dict, negative: bool = False) -> CheckResult:
    """Per seed with all three runs at the target depth: each norm's owner (GD l2, SD linf, CD l1) has the
    largest margin in it (the control rotates the owners)."""
    owner = ROTATED if negative else OWNERS
    wins = []
    for s in sorted({s for s, _ in deep}):
        trio = {a: deep.get((s, a)) for a in ALGOS}
        if any(v is None or v["status"] != "success" for v in trio.values()):
            continue
        wins.append(all(max(trio, key=lambda a: trio[a]["margins"][p]) == owner[p] for p in owner))
    frac = float(np.mean(wins)) if wins else math.nan
    lo, hi = wilson(sum(wins), len(wins))
    tag = "(negative control: owners rotated) " if negative else ""
    return CheckResult("own-margin-at-depth" + ("-control" if negative else ""),
                       f"{tag}at log10 L = {DEPTH:g} (late-phase continuation of the batched runs), "
                       f"{owner['l2']} has the largest gamma_bar_2, {owner['linf']} the largest gamma_bar_inf and "
                       f"{owner['l1']} the largest gamma_bar_1 of GD, SD and CD, in >= {SEED_FRAC:g} of the seeds "
                       f"[{sum(wins)}/{len(wins)}, 95% Wilson [{lo:.2f}, {hi:.2f}]]",
                       frac, SEED_FRAC, bool(wins) and frac >= SEED_FRAC, ">=", {"seeds": len(wins)},
                       negative_control=negative, evidence=bool(wins),
                       definition="fraction of seeds (GD, SD and CD all reached the depth) where the named owners "
                                  "win all three norms", changed="the owners rotated" if negative else "")


def depth_table(deep: dict) -> list:
    rows = [{"run": f"{a} seed {s}", "status": v["status"], "log10 L": f"{v['log10_loss']:.4g}", "steps": v["steps"],
             "seconds": f"{v['seconds']:.1f}", **{f"gamma_bar_{p}": f"{v['margins'][p]:.4g}" for p in ("l1", "l2", "linf")},
             "own soft-margin drawdown": f"{v['drawdown']:.3g}"} for (s, a), v in sorted(deep.items())]
    for a in ALGOS:
        m, se = mean_se([v["drawdown"] for (s, b), v in deep.items() if b == a])
        rows.append({"run": f"{a}: drawdown mean +- SE", "own soft-margin drawdown": f"{m:.3g} +- {se:.2g}"})
    return rows


__all__ = ["DEPTH", "H", "continue_run", "depth_runs", "own_margin_at_depth", "depth_table", "as_runs"]
