"""Shampoo and the spectral margin (paper Fig. 3) on sklearn's 8x8 digits, in the paper's own form: the
accumulating reference Shampoo, tuned over what the reference exposes, against GD and Adam at a fixed depth.

Model: f(x; W) = a^T relu(W x), a frozen at alternating +-1/sqrt(100) (TwoLayerReLU(train_output=False)),
degree 1 in W. Spectral margin gamma_spec(W) = min_i y_i f(x_i; W) / ||W||_2 (kc.margin(norm="spectral")).
Runs (no momentum anywhere): GD lr 50 (the paper's "unusually large" GD step; mean logistic loss), Adam
beta1 = 0, beta2 = 0.999, eps 1e-8, lr 1e-2; the paper's optimizer, the accumulating reference Shampoo
(torch-optimizer form, ``_shampoo_sweep.ShampooConfig``), tuned by the sweep and selection rule of
``_shampoo_sweep``; spectral descent = ShampooNoAccumulation (W <- W - eta U V^T, lr 1e-2), the theorem's
algorithm (steepest descent in the spectral norm), a separate row, never a stand-in. Init N(0, 0.01^2), digits
3 vs 6, 100 unit-norm points; each seed draws its own subsample and init.

Depth: every run trains until the mean loss first falls below L* (full 1e-4, quick 1e-3) or a step cap (full
10,000, quick 3,000). L* = 1e-4 is about four decades below the loss at 100% train accuracy (0.6, reached
within 5 steps), where GD's and spectral descent's gamma_spec change by under 10% per decade of loss, and the
baselines reach it within the cap (GD, the slowest, needs about 7,500 steps; a run short of L* gives nan). Comparing at one loss level, not one step count, keeps a fast optimizer
from being compared with a slow one at a different stage of the late phase.

Seeds: selection seeds (full: 100, 101, 102) pick the configuration; evaluation seeds (default 0, 1, 2; quick:
0, also the selection seed there) carry the claims. Per-seed claims, aggregated by ``_seeds.aggregate`` (fraction
of seeds >= 0.8, mean +- SE of the per-seed statistic, Wilson interval):
* ``largest_margin``: gamma_spec(winner) / max(gamma_spec(GD), gamma_spec(Adam)), all at L*, > 1 (the paper:
  "Shampoo achieves the largest value among the three"). For the selected Shampoo (paper claim, informational)
  and spectral descent (asserted). Control: the same ranking in l2 (GD's own norm), must fail.
* ``trend``: after the first record with 100% train accuracy, the fraction of record pairs (i < j) with
  gamma(j) > gamma(i) (Kendall-type concordance: 1 = increasing throughout, 0.5 = no trend), >= TREND_FRAC = 0.8
  (tau = 0.6, a clear upward trend; end > start passes a margin that falls most of the run). Asserted for
  spectral descent; paper claim for GD, Adam and the selected Shampoo. Control: the accumulating Shampoo at
  lr 10 (``TREND_CONTROL``: gamma_spec peaks early, then falls), must fail.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from kktcheck import single_threaded

from ..results import CheckResult, Figure, describe_case
from ._digits_common import kkt_rows, plot_runs
from ._pool import PrefilledCache, default_workers, prefill
from ._shampoo_runs import NORMS, SPECTRAL_KKT_SECONDS, _runs, jobs, kkt_jobs, make_optimizer, run_config  # noqa: F401
from ._seeds import aggregate_all, fmt_mean_se
from ._shampoo_sweep import (GRID_FULL, GRID_QUICK, TREND_CONTROL, at_depth, depth_rows, select,
                             spectral_kkt_rows, sweep_rows)
from .base import ExperimentResult, describe, register

BASE = ("GD", "Adam", "Spectral descent")
TUNED = "Shampoo (selected)"
TREND_FRAC = 0.8
DEPTH, DEPTH_QUICK = 1e-4, 1e-3              # L*: the loss level of every "at depth" value
CAP, CAP_QUICK = 10_000, 3_000               # step cap of a run that has not reached L*
CACHE_VERSION = 4       # part of every cache key: bump when training or the recorded fields change
SEEDS, SEEDS_QUICK, SELECT_SEEDS = (0, 1, 2), (0,), (100, 101, 102)


DEFINITIONS = {
    "spectral-largest": ("spectral margin of the named run at depth L* / the largest of GD's and Adam's at L*",
                         "the same ranking measured in l2 instead of the spectral norm"),
    "spectral-trend": ("fraction of post-fit record pairs (i < j) with margin(j) > margin(i), records from the "
                       "first with 100% train accuracy to L*", "the accumulating Shampoo at lr 10 in place of "
                       "the named run"),
}


def largest_margin(runs: dict, winner: str, level: float, pair="", norm="spectral", informational=False,
                   rivals=("GD", "Adam")) -> CheckResult:
    """gamma(winner) / max gamma(rivals) in ``norm``, all at log L = ``level`` (no evidence if a run did not get
    there, or ``winner`` was not run); norm != "spectral" is the negative control."""
    end = {n: at_depth(runs[n], level, norm) if n in runs else math.nan for n in (*rivals, winner)}
    best_other = max(end[n] for n in rivals)
    ratio = end[winner] / best_other if best_other > 0 else math.nan
    ctl = norm != "spectral"
    note = {} if winner in runs else {"note": "no configuration reached L* in every selection seed"}
    return CheckResult(f"spectral-largest{'-control' if ctl else ''}{pair}:{winner}",
                       f"{'(negative control: l2 in place of spectral) ' if ctl else ''}{winner} has the "
                       f"largest {norm} margin among {', '.join((*rivals, winner))} at loss {math.exp(level):.0e}"
                       f"{pair}", ratio, 1.0, bool(ratio > 1.0), ">", {"margins_at_depth": end, "norm": norm,
                                                                       **note},
                       informational=informational, negative_control=ctl)


def concordance(g) -> float:
    """Fraction of pairs i < j with g[j] > g[i] (nan for fewer than two finite values)."""
    g = np.asarray(g, dtype=float)
    g = g[np.isfinite(g)]
    if g.size < 2:
        return math.nan
    i, j = np.triu_indices(g.size, k=1)
    return float(np.mean(g[j] > g[i]))


def trend(run, pair="", norm="spectral", informational=False, control=False, label=None) -> CheckResult:
    """Monotone-trend claim: concordance of ``run``'s ``norm`` margin over the records after 100% train accuracy."""
    label = label or getattr(run, "name", "?")
    ctl = "(negative control: a run whose margin peaks early) " if control else ""
    claim = f"{ctl}{label}: the {norm} margin increases after 100% train accuracy (trend){pair}"
    name = f"spectral-trend{'-control' if control else ''}{pair}:{label}"
    idx = np.flatnonzero(run.accuracy >= 1.0) if run is not None else np.array([], dtype=int)
    if idx.size == 0:
        return CheckResult(name, claim, math.nan, TREND_FRAC, False, ">=",
                           {"note": "not run" if run is None else "never fit"},
                           informational=informational, negative_control=control)
    g = run.margins[norm][idx[0]:]
    return CheckResult(name, claim, concordance(g), TREND_FRAC, bool(concordance(g) >= TREND_FRAC), ">=",
                       {"records": int(g.size), "fit_step": int(run.steps[idx[0]]), "at_fit": float(g[0]),
                        "peak": float(np.nanmax(g)), "end": float(g[-1])},
                       informational=informational, negative_control=control)


def seed_claims(runs: dict, tag: str, level: float) -> list:
    """The claims and controls on one evaluation seed's runs (``runs[TUNED]`` absent: no selection)."""
    c = [largest_margin(runs, TUNED, level, tag, informational=True),
         largest_margin(runs, TUNED, level, tag, norm="l2"),          # a control, counted with the controls
         largest_margin(runs, "Spectral descent", level, tag),
         largest_margin(runs, "Spectral descent", level, tag, norm="l2"),
         trend(runs["Spectral descent"], tag),
         trend(runs[TREND_CONTROL.name], tag, control=True, label="Shampoo lr=10")]
    c += [trend(runs.get(n), tag, informational=True, label=n) for n in ("GD", "Adam", TUNED)]
    return describe(c, DEFINITIONS)


def trend_rows(per_seed: list) -> list:
    """The trend statistic (concordance after 100% train accuracy) of every run in every norm, mean +- SE."""
    return [{"run": n, **{nm: fmt_mean_se([trend(r[n], norm=nm).measured for r in per_seed], 3) for nm in NORMS}}
            for n in per_seed[0]]


def _selection(pair, cap, depth, select_seeds, grid, cache, progress):
    """Selection seeds: GD, Adam and every grid configuration; returns (per-seed runs, the selected config)."""
    sel = [_runs(pair, cap, depth, s, ("GD", "Adam") + tuple(c.name for c in grid), cache, progress)[2]
           for s in select_seeds]
    return sel, select({c: [at_depth(r[c.name], math.log(depth)) for r in sel] for c in grid})


def _tables(per_seed, sel, grid, chosen, level, tag, seeds, select_seeds) -> dict:
    in_sample = " (in-sample: the selection seeds are the evaluation seeds)" if set(seeds) & set(select_seeds) else ""
    shown = [n for n in (*BASE, TUNED, TREND_CONTROL.name) if n in per_seed[0]]
    return {f"runs at depth L* = {math.exp(level):.0e}{tag}, evaluation seeds {seeds}: mean +- SE":
            depth_rows(per_seed, shown, level),
            f"trend statistic of every run in every norm{tag}: mean +- SE over evaluation seeds {seeds}":
            trend_rows([{n: r[n] for n in shown} for r in per_seed]),
            f"accumulating Shampoo sweep{tag}, selection seeds {select_seeds}{in_sample}; rule: largest mean "
            f"gamma_spec at L* among configurations reaching L* in every selection seed":
            sweep_rows(sel, grid, level, chosen, trend)}


def _summary(claims, chosen, seeds, cache) -> str:
    by = {c.name.split(":")[0].split(" (")[0] + ":" + c.name.split(":")[-1]: c for c in claims}
    tuned = by[f"spectral-largest:{TUNED}"]
    sd = by["spectral-largest:Spectral descent"]
    verdict = "reproduced" if tuned.passed else "NOT reproduced"
    what = (f"the selected configuration (lr, eps, update_freq) = ({chosen.lr:g}, {chosen.epsilon:g}, "
            f"{chosen.update_freq})" if chosen else "no configuration reached L* in every selection seed")
    return (f"Paper claim 'Shampoo attains the largest spectral margin' (accumulating reference Shampoo, {what}): "
            f"{verdict} ({tuned.detail.get('passed_seeds', 0)}/{tuned.detail.get('n', 0)} evaluation seeds {seeds}, "
            f"ratio to the best of GD and Adam {tuned.detail.get('mean', math.nan):.3g} +- "
            f"{tuned.detail.get('se', math.nan):.2g}). Exact spectral descent (the theorem's algorithm, a separate "
            f"row): ratio {sd.detail.get('mean', math.nan):.3g} +- {sd.detail.get('se', math.nan):.2g}, "
            f"{'PASS' if sd.passed else 'FAIL'}. {cache.summary_line()}.")


@register("shampoo_spectral", "Shampoo and the spectral margin (paper Fig. 3), frozen second layer")
def run(out=None, *, seeds=None, quick: bool = False, progress: bool = True, pair=(3, 6), steps=None,
        kkt: bool | None = None, sweep: bool | None = None, depth: float | None = None, select_seeds=None,
        workers: int | None = None):
    """Run the experiment: the sweep on the selection seeds, then GD, Adam, spectral descent, the selected
    Shampoo and the trend control on every evaluation seed, each to loss ``depth`` or ``steps``. ``sweep``
    (default: not quick) uses GRID_FULL and the selection seeds 100..102, else GRID_QUICK on the evaluation
    seeds; ``kkt`` (default: not quick) adds the KKT tables of the first evaluation seed. ``workers``: processes
    that train the missing runs up front (default 2 for a full run, 1 for quick; ``_pool``); the numbers do
    not depend on it."""
    sweep = (not quick) if sweep is None else sweep
    cap = steps or (CAP_QUICK if quick else CAP)
    depth = (DEPTH_QUICK if quick else DEPTH) if depth is None else depth
    if isinstance(depth, bool) or not isinstance(depth, (int, float)) or not 0 < depth < math.log(2):
        raise ValueError(f"depth must be a loss level in (0, log 2) (the loss at W = 0), got {depth}")
    out = Path(out or "experiment-shampoo_spectral")
    out.mkdir(parents=True, exist_ok=True)
    level, grid = math.log(depth), (GRID_FULL if sweep else GRID_QUICK)
    seeds = [int(s) for s in (seeds if seeds is not None else (SEEDS_QUICK if quick else SEEDS))]
    select_seeds = [int(s) for s in (select_seeds or (SELECT_SEEDS if sweep else seeds))]
    tag = f" ({pair[0]} vs {pair[1]})"
    cache = PrefilledCache(out / "cache", "shampoo_spectral", CACHE_VERSION)
    kcache = PrefilledCache(out / "cache", "shampoo_spectral:kkt", CACHE_VERSION)
    workers, kkt = default_workers(quick) if workers is None else workers, (not quick) if kkt is None else kkt
    prefill(jobs(CACHE_VERSION, pair, cap, depth, select_seeds, ("GD", "Adam") + tuple(c.name for c in grid))
            + jobs(CACHE_VERSION, pair, cap, depth, seeds, BASE + (TREND_CONTROL.name,)), cache, workers, progress)
    with single_threaded():
        sel, chosen = _selection(pair, cap, depth, select_seeds, grid, cache, progress)
        names = BASE + tuple(c.name for c in (chosen, TREND_CONTROL) if c is not None)
        prefill(jobs(CACHE_VERSION, pair, cap, depth, seeds, names), cache, workers, progress)
        if kkt:           # --quick: the KKT tables are in the full run only
            prefill(kkt_jobs(CACHE_VERSION, pair, cap, depth, seeds[0], names), kcache, workers, progress)
        per_seed, first = [], None
        for seed in seeds:
            ds, model, runs = _runs(pair, cap, depth, seed, names, cache, progress)
            if chosen is not None:
                runs[TUNED] = dataclasses.replace(runs[chosen.name], name=TUNED)
            per_seed.append(runs)
            first = first or (ds, model, runs)
        claims = aggregate_all([seed_claims(r, tag, level) for r in per_seed], seeds)
        ds, model, runs = first
        case = describe_case(model, ds.train, data_name=f"sklearn digits {pair[0]} vs {pair[1]}, second layer frozen",
                             algorithm=", ".join(n for n in runs if n != TUNED), norm="spectral / l2 / linf margins",
                             step=f"until loss {depth:.0e} or {cap} steps; evaluation seeds {seeds}, selection "
                                  f"seeds {select_seeds}", reached=cache.summary_line())
        for c in claims:
            c.case = case
        shown = {n: runs[n] for n in (*BASE, TUNED, TREND_CONTROL.name) if n in runs}
        fig = Figure(plot_runs(shown, ("spectral", "l2"), out / f"shampoo_spectral_{pair[0]}v{pair[1]}.png",
                               f"frozen second layer, digits {pair[0]} vs {pair[1]}, seed {seeds[0]}"),
                     f"Seed {seeds[0]} of this section's runs, each until loss {depth:.0e}")
        tables = _tables(per_seed, sel, grid, chosen, level, tag, seeds, select_seeds)
        if kkt:
            cfgs = {n: run_config(pair, cap, depth, seeds[0], chosen.name if n == TUNED else n) for n in shown}
            tables[f"KKT measure of (MM) at the final iterate{tag}, seed {seeds[0]}"] = \
                kkt_rows(shown, model, ds.train, ("l2", "linf"), kcache, cfgs)
            tables[f"spectral-norm KKT measure at the final iterate{tag}, seed {seeds[0]} (informational)"] = \
                spectral_kkt_rows(shown, model, ds.train, SPECTRAL_KKT_SECONDS, kcache, cfgs)
    return ExperimentResult("shampoo_spectral", claims, [fig], tables, _summary(claims, chosen, seeds, cache),
                            title="Shampoo and the spectral margin (paper Fig. 3)", seeds=seeds)


__all__ = ["run", "largest_margin", "trend", "concordance", "seed_claims", "make_optimizer", "BASE", "TUNED",
           "CACHE_VERSION", "SEEDS", "SELECT_SEEDS", "DEPTH", "DEPTH_QUICK"]
