"""Adam vs sign descent (paper Fig. 2) on sklearn's 8x8 digits (our defaults; the paper's are lost).

Setup (our defaults): digits 3 vs 6 and 2 vs 7, 100 unit-norm training points, TwoLayerReLU(64, 100)
(both layers trained, degree 2), init N(0, 0.01^2), mean logistic loss, constant step sizes:
GD lr 1.0 (SteepestDescent l2); SD = normalized sign descent lr 1e-3 (stopped at L < 1e-12, held flat);
Adam lr 1e-3, betas (0.9, 0.999), eps in {1e-8, 1e-4, 0}; Adam without momentum (beta1 = 0, eps 1e-8).
Recorded: gamma_bar_2 and gamma_bar_inf = min_i y_i f(x_i) / ||theta||^2 in that norm.

Claims (each a CheckResult; the same function evaluated on another run is the negative control):
* sd_like_phase(adam, sd, gd): s = log(peak gamma_inf(Adam)/peak gamma_inf(GD)) / log(peak SD / peak GD)
  >= 0.5, i.e. Adam's l_inf margin rises closer (in log scale) to SD's than to GD's.
* second_phase(run): after the record where gamma_inf peaks, gamma_2 grows by r = g2(end)/g2(peak) - 1
  >= 0.1 while gamma_inf falls; the loss at the peak is reported as the phase-2 onset level.
* own_margin_largest: GD ends with the largest gamma_2, SD with the largest gamma_inf among all runs.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..results import CheckResult, Figure, describe_case
from ._digits_common import kkt_rows, plot_runs, run_cached, single_thread
from .base import ExperimentResult, describe, register

ALGOS = ("GD", "SD", "Adam eps=1e-8", "Adam eps=1e-4", "Adam eps=0", "Adam beta1=0")
PHASE_THRESHOLD = 0.5
GROWTH_THRESHOLD = 0.1


def make_optimizer(name: str, gd_lr=1.0, lr=1e-3):
    from .. import optim as O
    table = {
        "GD": lambda p: O.SteepestDescent(p, lr=gd_lr, norm="l2"),
        "SD": lambda p: O.SignDescent(p, lr=lr, normalized=True),
        "Adam eps=1e-8": lambda p: O.Adam(p, lr=lr, eps=1e-8),
        "Adam eps=1e-4": lambda p: O.Adam(p, lr=lr, eps=1e-4),
        "Adam eps=0": lambda p: O.Adam(p, lr=lr, eps=0.0),
        "Adam beta1=0": lambda p: O.Adam(p, lr=lr, betas=(0.0, 0.999), eps=1e-8),
    }
    if name not in table:
        raise ValueError(f"unknown algorithm {name!r}; valid: {', '.join(table)}")
    return table[name]


DEFINITIONS = {
    "adam-sd-phase": "s = log(peak gamma_inf(run) / peak gamma_inf(GD)) / log(peak gamma_inf(SD) / peak gamma_inf(GD))",
    "adam-second-phase": "relative growth of gamma_2 from the record of the gamma_inf peak to the end (gamma_inf "
                         "must also fall)",
    "own-margin-largest": "min(gamma_2(GD) / best other gamma_2, gamma_inf(SD) / best other gamma_inf) at the end",
}


def sd_like_phase(adam, sd, gd, pair="") -> CheckResult:
    pa, ps, pg = (float(np.nanmax(r.margins["linf"])) for r in (adam, sd, gd))
    ok_scale = pg > 0 and ps > pg
    s = math.log(pa / pg) / math.log(ps / pg) if ok_scale and pa > 0 else -math.inf
    return CheckResult(f"adam-sd-phase{pair}:{adam.name}",
                       f"{adam.name} first behaves like SD: its l_inf margin peak is closer (log scale) to SD's "
                       f"than to GD's{pair}", s, PHASE_THRESHOLD, bool(s >= PHASE_THRESHOLD), ">=",
                       {"peak_linf_run": pa, "peak_linf_SD": ps, "peak_linf_GD": pg})


def second_phase(run, pair="") -> CheckResult:
    k = int(np.nanargmax(run.margins["linf"]))
    g2 = run.margins["l2"]
    growth = float(g2[-1] / g2[k] - 1.0) if g2[k] > 0 else -math.inf
    falls = bool(run.margins["linf"][-1] < run.margins["linf"][k])
    onset = float(math.exp(run.log_loss[k]))
    return CheckResult(f"adam-second-phase{pair}:{run.name}",
                       f"{run.name}: after its l_inf peak a second phase follows (l_2 margin grows >= 10%, "
                       f"l_inf falls){pair}", growth, GROWTH_THRESHOLD,
                       bool(growth >= GROWTH_THRESHOLD and falls), ">=",
                       {"onset_loss": onset, "onset_step": int(run.steps[k]), "linf_falls": falls,
                        "l2_at_peak": float(g2[k]), "l2_end": float(g2[-1])})


def own_margin_largest(runs: dict, l2_winner="GD", linf_winner="SD", pair="") -> CheckResult:
    end = {n: (r.margins["l2"][-1], r.margins["linf"][-1]) for n, r in runs.items()}
    best2 = max(end, key=lambda n: end[n][0])
    besti = max(end, key=lambda n: end[n][1])
    others2 = max(v[0] for n, v in end.items() if n != l2_winner)
    othersi = max(v[1] for n, v in end.items() if n != linf_winner)
    gap = min(end[l2_winner][0] / others2, end[linf_winner][1] / othersi)
    return CheckResult(f"own-margin-largest{pair}", f"{l2_winner} ends with the largest l_2 margin and "
                       f"{linf_winner} with the largest l_inf margin{pair}", float(gap), 1.0,
                       bool(best2 == l2_winner and besti == linf_winner), ">",
                       {"largest_l2": best2, "largest_linf": besti})


def _pair_runs(pair, steps, seed, progress, cache_dir):
    from ..datasets.digits import load_digits_pair
    from ..models import TwoLayerReLU
    import torch
    ds = load_digits_pair(pair[0], pair[1], 100, seed=seed)
    model = TwoLayerReLU(64, 100)
    p0 = model.init(1e-2, torch.Generator().manual_seed(seed))
    runs = {}
    for name in ALGOS:
        stop = math.log(1e-12) if name == "SD" else -700.0
        cfg = dict(exp="adam_vs_sign", pair=list(pair), algo=name, steps=steps, seed=seed, init=1e-2, width=100)
        runs[name] = run_cached(cache_dir, cfg, model, p0, ds.train, make_optimizer(name), steps, name,
                                ("l2", "linf"), stop, progress)
    return ds, model, runs


@register("adam_vs_sign", "Adam vs sign descent on digits (paper Fig. 2): l2 and l_inf margins over time")
def run(out=None, *, seeds=None, quick: bool = False, progress: bool = True, pairs=None, steps=None,
        kkt: bool | None = None) -> ExperimentResult:
    """Run the experiment; ``quick``: 3 vs 6 only, 1500 steps, KKT only for GD and SD."""
    out = Path(out or "experiment-adam_vs_sign")
    out.mkdir(parents=True, exist_ok=True)
    pairs = pairs or ([(3, 6)] if quick else [(3, 6), (2, 7)])
    steps = steps or (1500 if quick else 10000)
    seed = int(seeds[0]) if isinstance(seeds, (list, tuple)) else 0
    claims, figures, tables = [], [], {}
    with single_thread():
        for pair in pairs:
            tag = f" ({pair[0]} vs {pair[1]})"
            ds, model, runs = _pair_runs(pair, steps, seed, progress, out / "cache")
            figures.append(plot_runs(runs, ("l2", "linf"), out / f"adam_vs_sign_{pair[0]}v{pair[1]}.png",
                                     f"digits {pair[0]} vs {pair[1]}"))
            for name in ("Adam eps=1e-8", "Adam beta1=0"):
                claims.append(sd_like_phase(runs[name], runs["SD"], runs["GD"], tag))
            claims.append(second_phase(runs["Adam eps=1e-8"], tag))
            claims.append(second_phase(runs["Adam eps=0"], tag))  # eps-free: a phase 2 here is not eps-driven
            claims.append(own_margin_largest(runs, pair=tag))
            case = describe_case(model, ds.train, data_name=f"sklearn digits {pair[0]} vs {pair[1]}",
                                 algorithm=", ".join(runs), norm="l2 / linf margins",
                                 step=f"{steps} steps, seed {seed}",
                                 reached="; ".join(f"{n}: {r.status} at step {int(r.steps[-1])}"
                                                   for n, r in runs.items()))
            for c in claims:
                c.case = c.case or case
            figures[-1] = Figure(figures[-1], f"The runs of the claims tagged{tag}: {case.text()}")
            rows = []
            for name, r in runs.items():
                k = int(np.nanargmax(r.margins["linf"]))
                rows.append({"algorithm": name, "status": r.status, "steps": int(r.steps[-1]),
                             "final loss": f"{math.exp(r.log_loss[-1]):.3g}",
                             "gamma_2 end": f"{r.margins['l2'][-1]:.4g}", "gamma_inf end": f"{r.margins['linf'][-1]:.4g}",
                             "gamma_inf peak": f"{r.margins['linf'][k]:.4g}",
                             "loss at gamma_inf peak": f"{math.exp(r.log_loss[k]):.3g}",
                             "test acc": f"{_test_acc(model, r.params, ds.test):.3f}"})
            tables[f"margins{tag}"] = rows
            names = ALGOS if not quick else ("GD", "SD")
            if kkt is None or kkt:
                tables[f"KKT measure of (MM) at the final iterate{tag}"] = kkt_rows(
                    {n: runs[n] for n in names}, model, ds.train, ("l2", "linf"))
    describe(claims, DEFINITIONS)
    return ExperimentResult("adam_vs_sign", claims, figures, tables,
                            "Adam vs sign descent on sklearn digits (our defaults, docs/experiments.md).",
                            title="Adam vs sign descent on digits (paper Fig. 2)")


def _test_acc(model, params, test):
    import torch
    X, y = test
    with torch.no_grad():
        return float(((y * model.apply_params(params, X)) > 0).double().mean())


__all__ = ["run", "sd_like_phase", "second_phase", "own_margin_largest", "make_optimizer", "ALGOS"]
