"""The accumulating Shampoo tuning sweep of ``shampoo_spectral`` (paper Fig. 3), its selection rule, and the
spectral-norm KKT table.

A configuration is what the torch-optimizer reference exposes with momentum and weight decay at 0 (the paper's
"all without momentum"): ``lr``, ``epsilon`` (preconditioners start at epsilon I) and ``update_freq`` (inverse
roots recomputed every that many steps). Every run trains until the mean logistic loss first falls below the
depth level L* (or a step cap); "at depth" values are read at the first record with L <= L* (the stop record).

Selection rule (fixed before any sweep result was seen): a configuration is eligible when it reaches L* in
every selection seed; among the eligible ones the one with the largest mean (over the selection seeds) of the
spectral margin gamma_spec = min_i y_i f(x_i; W) / ||W||_2 at L* is selected. The claim is then evaluated on
the evaluation seeds, which are disjoint from the selection seeds in the full run (quick: the same seed, an
in-sample pick, said in the table title). No eligible configuration -> no selection -> the claim has no
evidence (NOT reproduced).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._seeds import fmt_mean_se


@dataclass(frozen=True)
class ShampooConfig:
    """One configuration of the accumulating reference Shampoo (momentum 0, weight decay 0)."""
    lr: float
    epsilon: float = 1e-4
    update_freq: int = 1

    @property
    def name(self) -> str:
        return f"Shampoo lr={self.lr:g} eps={self.epsilon:g} f={self.update_freq}"

    def make(self, params):
        from .. import optim as O
        return O.Shampoo(params, lr=self.lr, epsilon=self.epsilon, update_freq=self.update_freq)


REFERENCE_DEFAULT = ShampooConfig(0.1, 1e-4, 1)      # torch-optimizer's defaults: "off-the-shelf"
TREND_CONTROL = ShampooConfig(10.0, 1e-4, 1)         # gamma_spec peaks within ~20 steps, then falls
GRID_FULL = (tuple(ShampooConfig(lr) for lr in (0.1, 1.0, 3.0, 10.0, 30.0, 100.0))
             + tuple(ShampooConfig(lr, eps) for eps in (1e-6, 1e-2) for lr in (3.0, 30.0))
             + tuple(ShampooConfig(lr, 1e-4, 10) for lr in (3.0, 30.0)))
GRID_QUICK = (ShampooConfig(3.0), ShampooConfig(30.0))


def at_depth(run, level_log_loss: float, norm: str = "spectral") -> float:
    """The run's ``norm`` margin at the first record with log L <= level (nan if it never got there)."""
    return run.at_loss(norm, level_log_loss)


def steps_to_depth(run, level_log_loss: float) -> float:
    idx = np.flatnonzero(run.log_loss <= level_log_loss)
    return float(run.steps[idx[0]]) if idx.size else math.nan


def ratio_to_rivals(runs: dict, name: str, level_log_loss: float, rivals=("GD", "Adam"), norm="spectral") -> float:
    """gamma(name) / max over rivals of gamma(rival), all at depth L* (nan if any of them did not reach it)."""
    mine = at_depth(runs[name], level_log_loss, norm)
    best = max(at_depth(runs[r], level_log_loss, norm) for r in rivals)
    return mine / best if best > 0 and math.isfinite(mine) else math.nan


def select(per_config: dict):
    """The selection rule: ``per_config`` maps config -> list of gamma_spec at L* over the selection seeds (nan =
    depth not reached). Returns the eligible config with the largest mean, or None when none is eligible."""
    eligible = {c: float(np.mean(v)) for c, v in per_config.items() if len(v) and all(map(math.isfinite, v))}
    if not eligible:
        return None
    return max(eligible, key=lambda c: (eligible[c], -c.lr))


def fmt_finite_n(values, digits: int = 3) -> str:
    """mean +- SE of the finite values, with "(n=k of m)" when some are nan (a run that missed L*)."""
    k = sum(map(math.isfinite, values))
    return fmt_mean_se(values, digits) + ("" if k == len(values) else f" (n={k} of {len(values)})")


def sweep_rows(per_seed: list, grid, level_log_loss: float, chosen, trend_of) -> list:
    """One row per configuration over the selection seeds' runs (``per_seed``: one dict name -> Run per seed):
    n, seeds reaching L*, gamma_spec at L* (mean +- SE), final loss, steps to L*, the ratio to the best of GD and
    Adam at L*, the trend statistic ``trend_of(run)``; the selected row is marked."""
    rows = []
    for c in grid:
        rs = [runs[c.name] for runs in per_seed]
        g = [at_depth(r, level_log_loss) for r in rs]
        rows.append({"config (lr, eps, update_freq)": f"{c.lr:g}, {c.epsilon:g}, {c.update_freq}"
                                                      + ("  <- selected" if c == chosen else ""),
                     "n": len(rs), "reached L*": f"{sum(map(math.isfinite, g))}/{len(rs)}",
                     "gamma_spec at L* (selection)": fmt_finite_n(g, 4),
                     "final loss": fmt_mean_se([math.exp(r.log_loss[-1]) for r in rs], 3),
                     "steps to L*": fmt_finite_n([steps_to_depth(r, level_log_loss) for r in rs]),
                     "gamma_spec end / peak": f"{fmt_mean_se([r.margins['spectral'][-1] for r in rs], 3)} / "
                                              f"{fmt_mean_se([np.nanmax(r.margins['spectral']) for r in rs], 3)}",
                     "ratio to best of GD, Adam at L*": fmt_finite_n(
                         [ratio_to_rivals(runs, c.name, level_log_loss) for runs in per_seed]),
                     "trend (concordance)": fmt_finite_n([trend_of(r).measured for r in rs])})
    return rows


def depth_rows(per_seed: list, names, level_log_loss: float) -> list:
    """Evaluation-seed runs: n, seeds reaching L*, gamma_spec / l2 / linf at L* and steps to L* (mean +- SE)."""
    rows = []
    for n in names:
        rs = [runs[n] for runs in per_seed]
        rows.append({"run": n, "n": len(rs),
                     "reached L*": f"{sum(math.isfinite(at_depth(r, level_log_loss)) for r in rs)}/{len(rs)}",
                     **{f"gamma_{nm} at L*": fmt_finite_n([at_depth(r, level_log_loss, nm) for r in rs], 4)
                        for nm in ("spectral", "l2", "linf")},
                     "steps to L*": fmt_finite_n([steps_to_depth(r, level_log_loss) for r in rs]),
                     "final loss": fmt_mean_se([math.exp(r.log_loss[-1]) for r in rs], 3)})
    return rows


def spectral_kkt_key(cfg: dict, seconds: float) -> dict:
    """The cache configuration of the spectral KKT cell of the run ``cfg`` (time limit ``seconds``)."""
    return dict(cfg, kkt="spectral", kkt_kind="spectral", kkt_seconds=seconds)


def spectral_kkt_cell(run, model, data, seconds: float, cache=None, cfg: dict | None = None) -> dict:
    """Informational: kc.residual(theta, data, norm="spectral") of ``run``'s final iterate (the KKT measure of
    (MM) min 1/2 ||W||_2^2 s.t. y_i f(x_i; W) >= 1 at W / q_min: 0 exactly at a KKT point), as display strings.
    A solved program gives its measure and verdict at tol 1e-2; a certified interval [lower, upper] (the
    first-order spectral path) gives the interval and the verdict it decides ("not KKT" when lower > tol, else
    "could not decide"); a refusal, time-out or error gives "no evidence" and the reason (the closed-form upper
    bound shown beside it, never read as a pass). With ``cache`` and the run's ``cfg`` the cell is read from /
    stored in the cache, except a result stopped by the time limit (tried again next time)."""
    import kktcheck as kc
    key = None if cache is None else spectral_kkt_key(cfg, seconds)
    stored = None if key is None else cache.load(key, lambda d: (d["spectral KKT measure"], d["verdict"]))
    if stored is not None:
        return stored
    try:
        res = kc.residual(run.params, data, norm="spectral", model=model, pair=False, time_limit=seconds)
    except Exception as exc:  # noqa: BLE001 - e.g. not separated: no evidence, with the reason
        cell = {"spectral KKT measure": "no evidence",
                "verdict": f"no evidence: {type(exc).__name__}: {str(exc)[:120]}"}
        if key is not None:
            cache.save(key, cell)
        return cell
    solved = res.status == "optimal" and res.measure_source == "program"
    bracket = math.isfinite(res.measure_lower)     # a certified interval [lower, upper] (first-order path)
    value = f"{res.measure:.3g}" if solved else (f"[{res.measure_lower:.3g}, {res.measure:.3g}] (certified)"
                                                 if bracket else "no evidence")
    cell = {"spectral KKT measure": value,
            "verdict": res.verdict(1e-2) if solved or bracket else
            f"no evidence ({res.status}): {res.message[:120]}; closed-form upper bound {res.measure_bound:.3g}"}
    if key is not None and res.status != "time_limit":
        cache.save(key, cell)
    return cell


def spectral_kkt_rows(runs: dict, model, data, seconds: float, cache=None, cfgs: dict | None = None) -> list:
    """One row per run: ``spectral_kkt_cell`` (``cfgs``: run name -> its cache configuration)."""
    return [{"run": name, **spectral_kkt_cell(r, model, data, seconds, cache, None if cfgs is None else cfgs[name])}
            for name, r in runs.items()]


__all__ = ["ShampooConfig", "REFERENCE_DEFAULT", "TREND_CONTROL", "GRID_FULL", "GRID_QUICK", "at_depth",
           "steps_to_depth", "ratio_to_rivals", "select", "sweep_rows", "depth_rows", "spectral_kkt_rows",
           "spectral_kkt_cell", "spectral_kkt_key"]
