"""Adam vs sign descent (paper Fig. 2) on sklearn's 8x8 digits (our defaults; the paper's are lost).

Setup (our defaults): digits 3 vs 6 and 2 vs 7, 100 unit-norm training points, TwoLayerReLU(64, 100)
(both layers trained, degree 2), init N(0, 0.01^2), mean logistic loss, constant step sizes:
GD lr 1.0 (SteepestDescent l2); SD = normalized sign descent lr 1e-3 (stopped at L < 1e-12, held flat);
Adam lr 1e-3, betas (0.9, 0.999), eps in {1e-8, 1e-4, 0}; Adam without momentum (beta1 = 0, eps 1e-8).
Recorded: gamma_bar_2 and gamma_bar_inf = min_i y_i f(x_i) / ||theta||^2 in that norm.

Seeds: each seed s draws its own 100-point training subsample (``load_digits_pair(..., seed=s)``) and its own
init (``torch.Generator().manual_seed(s)``); default seeds 0, 1, 2 (quick: 0).

Per-seed claims (each a CheckResult; a negative control is the same statistic with the roles swapped, shown in
the report next to its claim):
* sd_like_phase(adam, sd, gd): s = log(peak gamma_inf(Adam)/peak gamma_inf(GD)) / log(peak SD / peak GD)
  >= 0.5, i.e. Adam's l_inf margin rises closer (in log scale) to SD's than to GD's. Control: GD and SD
  exchanged (s' = log(pa/ps)/log(pg/ps) = 1 - s >= 0.5: "closer to GD's"), which must fail.
* second_phase(run): after the record where gamma_inf peaks, gamma_2 grows by r = g2(end)/g2(peak) - 1
  >= 0.1 while gamma_inf falls; the loss at the peak is reported as the phase-2 onset level. Control: the SD
  run (steepest descent in l_inf: its gamma_inf peaks at its end, no second phase).
* own_margin_largest: GD ends with the largest gamma_2, SD with the largest gamma_inf among all runs. Control:
  the roles swapped (SD largest gamma_2, GD largest gamma_inf).
* ``_adam_eps``: the eps ordering (peak height, onset, strength of the second phase; controls with the eps
  values exchanged), Adam without momentum's second phase, the loss levels where each phase starts, and where
  Adam eps = 0 leaves eps = 1e-8 (beta2 memory vs eps).
* ``_adam_depth`` (full run): GD and Adam eps = 1e-8 continued after step 10,000 with an increasing step
  schedule to loss 1e-30; Adam's l2 margin against GD's at matched loss levels (claim and control).
Each claim is then aggregated over seeds (``_seeds.aggregate``: fraction of seeds, >= 0.8, with mean +- SE of
the per-seed statistic and the Wilson interval).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kktcheck import single_threaded

from ..results import CheckResult, Figure, describe_case
from . import _adam_depth as D
from . import _adam_eps as E
from ._adam_runs import (ALGOS, CACHE_VERSION, SEEDS, SEEDS_QUICK, _depth_run, _pair_runs, _setup,  # noqa: F401
                         kkt_jobs, make_optimizer, run_config, run_jobs, train_run)
from ._digits_common import kkt_rows, plot_runs
from ._pool import PrefilledCache, default_workers, prefill
from ._seeds import aggregate_all, fmt_mean_se
from .base import ExperimentResult, describe, register

PHASE_THRESHOLD = 0.5
GROWTH_THRESHOLD = 0.1

DEFINITIONS = {
    "adam-sd-phase": "s = log(peak gamma_inf(run) / peak gamma_inf(GD)) / log(peak gamma_inf(SD) / peak gamma_inf(GD))",
    "adam-gd-phase": ("s' = log(peak gamma_inf(run) / peak gamma_inf(SD)) / log(peak gamma_inf(GD) / peak "
                      "gamma_inf(SD))", "GD and SD exchanged as the reference the run should resemble"),
    "adam-second-phase": ("relative growth of gamma_2 from the record of the gamma_inf peak to the end (gamma_inf "
                          "must also fall)", "the SD run (steepest descent in l_inf) in Adam's place"),
    "own-margin-largest": ("min(gamma_2(l2 winner) / best other gamma_2, gamma_inf(linf winner) / best other "
                           "gamma_inf) at the end", "the roles swapped: SD claimed largest in l2, GD in l_inf"),
}


def sd_like_phase(adam, sd, gd, pair="", like="SD") -> CheckResult:
    """s = log(pa/pg)/log(ps/pg) for like="SD"; the control like="GD" exchanges the references (s' = 1 - s)."""
    pa, ps, pg = (float(np.nanmax(r.margins["linf"])) for r in (adam, sd, gd))
    ok_scale = pg > 0 and ps > pg
    s = math.log(pa / pg) / math.log(ps / pg) if ok_scale and pa > 0 else -math.inf
    near, far = ("SD", "GD") if like == "SD" else ("GD", "SD")
    if like != "SD":
        s = 1.0 - s
    ctl = "" if like == "SD" else "(negative control: GD and SD exchanged) "
    return CheckResult(f"adam-{like.lower()}-phase{pair}:{adam.name}",
                       f"{ctl}{adam.name} first behaves like {near}: its l_inf margin peak is closer (log scale) to "
                       f"{near}'s than to {far}'s{pair}", s, PHASE_THRESHOLD, bool(s >= PHASE_THRESHOLD), ">=",
                       {"peak_linf_run": pa, "peak_linf_SD": ps, "peak_linf_GD": pg}, negative_control=like != "SD")


def second_phase(run, pair="", control=False) -> CheckResult:
    k = int(np.nanargmax(run.margins["linf"]))
    g2 = run.margins["l2"]
    growth = float(g2[-1] / g2[k] - 1.0) if g2[k] > 0 else -math.inf
    falls = bool(run.margins["linf"][-1] < run.margins["linf"][k])
    onset = float(math.exp(run.log_loss[k]))
    return CheckResult(f"adam-second-phase{pair}:{run.name}",
                       f"{'(negative control: not Adam) ' if control else ''}{run.name}: after its l_inf peak a "
                       f"second phase follows (l_2 margin grows >= 10%, l_inf falls){pair}", growth, GROWTH_THRESHOLD,
                       bool(growth >= GROWTH_THRESHOLD and falls), ">=",
                       {"onset_loss": onset, "onset_step": int(run.steps[k]), "linf_falls": falls,
                        "l2_at_peak": float(g2[k]), "l2_end": float(g2[-1])}, negative_control=control)


def own_margin_largest(runs: dict, l2_winner="GD", linf_winner="SD", pair="") -> CheckResult:
    end = {n: (r.margins["l2"][-1], r.margins["linf"][-1]) for n, r in runs.items()}
    best2 = max(end, key=lambda n: end[n][0])
    besti = max(end, key=lambda n: end[n][1])
    others2 = max(v[0] for n, v in end.items() if n != l2_winner)
    othersi = max(v[1] for n, v in end.items() if n != linf_winner)
    gap = min(end[l2_winner][0] / others2, end[linf_winner][1] / othersi)
    control = (l2_winner, linf_winner) != ("GD", "SD")
    ctl = "-control" if control else ""
    return CheckResult(f"own-margin-largest{ctl}{pair}", f"{'(negative control: roles swapped) ' if control else ''}"
                       f"{l2_winner} ends with the largest l_2 margin and "
                       f"{linf_winner} with the largest l_inf margin{pair}", float(gap), 1.0,
                       bool(best2 == l2_winner and besti == linf_winner), ">",
                       {"largest_l2": best2, "largest_linf": besti}, negative_control=control)


def seed_claims(runs: dict, tag: str) -> list:
    """The claims and their negative controls on one seed's runs of one pair (see the module docstring)."""
    claims = []
    for name in ("Adam eps=1e-8", "Adam beta1=0"):
        claims.append(sd_like_phase(runs[name], runs["SD"], runs["GD"], tag))
        claims.append(sd_like_phase(runs[name], runs["SD"], runs["GD"], tag, like="GD"))
    claims.append(second_phase(runs["Adam eps=1e-8"], tag))
    claims.append(second_phase(runs["Adam eps=0"], tag))  # eps-free: a phase 2 here is not eps-driven
    claims.append(second_phase(runs["SD"], tag, control=True))
    claims.append(own_margin_largest(runs, pair=tag))
    claims.append(own_margin_largest(runs, l2_winner="SD", linf_winner="GD", pair=tag))
    claims += E.seed_claims(runs, tag, second_phase)      # eps ordering, Adam without momentum
    return describe(claims, {**DEFINITIONS, **E.DEFINITIONS})


def margin_rows(per_seed: list, tests: list) -> list:
    """Per algorithm: status counts and mean +- SE over seeds of the final/peak margins and test accuracy."""
    rows = []
    for name in per_seed[0]:
        rs = [runs[name] for runs in per_seed]
        peak = [int(np.nanargmax(r.margins["linf"])) for r in rs]
        counts = {st: sum(r.status == st for r in rs) for st in sorted({r.status for r in rs})}
        rows.append({"algorithm": name, "status": ", ".join(f"{st} x{k}" for st, k in counts.items()),
                     "final loss": fmt_mean_se([math.exp(r.log_loss[-1]) for r in rs], 3),
                     "gamma_2 end": fmt_mean_se([r.margins["l2"][-1] for r in rs]),
                     "gamma_inf end": fmt_mean_se([r.margins["linf"][-1] for r in rs]),
                     "gamma_inf peak": fmt_mean_se([r.margins["linf"][k] for r, k in zip(rs, peak)]),
                     "loss at gamma_inf peak": fmt_mean_se([math.exp(r.log_loss[k]) for r, k in zip(rs, peak)], 3),
                     "test acc": fmt_mean_se([t[name] for t in tests], 3)})
    return rows


def _pair_section(pair, seeds, steps, quick, kkt, depth, cache, kcache, progress, out):
    """One digit pair: the runs of every seed, the aggregated claims, figure, tables and finding."""
    tag = f" ({pair[0]} vs {pair[1]})"
    per_seed, tests, first = [], [], None
    for seed in seeds:
        ds, model, runs = _pair_runs(pair, steps, seed, progress, cache)
        first = first or (ds, model, runs)
        per_seed.append(runs)
        tests.append({n: _test_acc(model, r.params, ds.test) for n, r in runs.items()})
    ds, model, runs = first
    claims = aggregate_all([seed_claims(r, tag) for r in per_seed], seeds)
    tables = {f"margins{tag}: mean +- SE over seeds {seeds}": margin_rows(per_seed, tests),
              f"phase levels{tag}: mean +- SE over seeds {seeds}": E.phase_rows(per_seed)}
    track = E.tracking_rows(per_seed, seeds)
    tables[f"beta2 memory vs eps{tag}: where Adam eps=0 leaves Adam eps=1e-8"] = track
    if depth:
        more, depth_tables = D.section(lambda s, a: _depth_run(cache, _setup(pair, s), pair, s, a, progress), seeds,
                                       tag)
        claims += more
        tables.update(depth_tables)
    if kkt:
        names = ALGOS if not quick else ("GD", "SD")
        tables[f"KKT measure of (MM) at the final iterate{tag}, seed {seeds[0]}"] = kkt_rows(
            {n: runs[n] for n in names}, model, ds.train, ("l2", "linf"), kcache,
            {n: run_config(pair, seeds[0], steps, n) for n in names})
    case = describe_case(model, ds.train, data_name=f"sklearn digits {pair[0]} vs {pair[1]}",
                         algorithm=", ".join(runs), norm="l2 / linf margins", step=f"{steps} steps, seeds {seeds}")
    for c in claims:
        c.case = case
    fig = Figure(plot_runs(runs, ("l2", "linf"), out / f"adam_vs_sign_{pair[0]}v{pair[1]}.png",
                           f"digits {pair[0]} vs {pair[1]}, seed {seeds[0]}"),
                 f"Seed {seeds[0]} of the runs of the claims tagged{tag} (subsample and init of that seed)")
    return claims, fig, tables, case, E.finding_text(track, tag)


@register("adam_vs_sign", "Adam vs sign descent on digits (paper Fig. 2): l2 and l_inf margins over time")
def run(out=None, *, seeds=None, quick: bool = False, progress: bool = True, pairs=None, steps=None,
        kkt: bool | None = None, depth: bool | None = None, workers: int | None = None) -> ExperimentResult:
    """Run the experiment for every seed; ``quick``: 3 vs 6 only, 1500 steps, seed 0, KKT only for GD and SD.
    KKT residuals and the figure use the first seed's runs. ``depth``: the scheduled continuations of GD and Adam
    to loss 1e-30 (``_adam_depth``; default: a full run with steps = 10,000, the prefix they continue).
    ``workers``: processes that train the missing runs up front (default 2 for a full run, 1 for quick;
    ``_pool``); the numbers do not depend on it."""
    out = Path(out or "experiment-adam_vs_sign")
    out.mkdir(parents=True, exist_ok=True)
    pairs = pairs or ([(3, 6)] if quick else [(3, 6), (2, 7)])
    steps = steps or (1500 if quick else 10000)
    seeds = [int(s) for s in (seeds if seeds is not None else (SEEDS_QUICK if quick else SEEDS))]
    depth = (not quick and steps == D.T0) if depth is None else bool(depth)   # continues the 10,000-step runs
    kkt, workers = kkt is None or bool(kkt), default_workers(quick) if workers is None else workers
    cache = PrefilledCache(out / "cache", "adam_vs_sign", CACHE_VERSION)
    kcache = PrefilledCache(out / "cache", "adam_vs_sign:kkt", CACHE_VERSION)
    prefill(run_jobs(pairs, seeds, steps, depth), cache, workers, progress)
    if kkt:
        prefill(kkt_jobs(pairs, seeds[0], steps, ALGOS if not quick else ("GD", "SD")), kcache, workers, progress)
    claims, figures, tables, cases, findings = [], [], {}, [], []
    with single_threaded():
        for pair in pairs:
            c, fig, t, case, finding = _pair_section(pair, seeds, steps, quick, kkt, depth, cache, kcache, progress,
                                                     out)
            claims += c
            figures.append(fig)
            tables.update(t)
            cases.append(case)
            findings.append(finding)
    for case in cases:
        case.reached = cache.summary_line()
    skipped = "" if depth else " The scheduled continuation to depth (full run only) was not run."
    return ExperimentResult("adam_vs_sign", claims, figures, tables,
                            f"Adam vs sign descent on sklearn digits, seeds {seeds} (our defaults, "
                            f"docs/experiments.md); {cache.summary_line()}. {' '.join(findings)}{skipped}",
                            title="Adam vs sign descent on digits (paper Fig. 2)", seeds=seeds)


def _test_acc(model, params, test):
    import torch
    X, y = test
    with torch.no_grad():
        return float(((y * model.apply_params(params, X)) > 0).double().mean())


__all__ = ["run", "sd_like_phase", "second_phase", "own_margin_largest", "seed_claims", "make_optimizer", "ALGOS",
           "CACHE_VERSION", "SEEDS"]
