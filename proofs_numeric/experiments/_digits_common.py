"""Shared plumbing of the digits experiments: cached training, plots, KKT table.

Cache: ``cache.RunCache`` (one JSON per run in ``out/cache``, keyed by the run's configuration, the
experiment's CACHE_VERSION and the package version; atomic writes; unusable entries recomputed with a warning).
"""
from __future__ import annotations

import math

from ..budget import step_bar, time_limit
from .cache import RunCache
from .digits_training import Run, train


def run_cached(cache: RunCache, cfg, model, p0, data, make_opt, steps, name, norms, stop_log_loss,
               progress, n_records: int = 120) -> Run:
    """The run of ``cfg`` from ``cache`` if it holds a valid one (a ``Run`` named ``name`` recording ``norms``),
    else trained with ``train`` (``n_records`` log-spaced records) and stored."""
    def validate(d):
        r = Run.from_dict(d)
        if r.name != name or set(norms) - set(r.margins) or len(r.steps) != len(r.log_loss):
            raise ValueError(f"holds run {r.name!r} with norms {sorted(r.margins)}, expected {name!r} with "
                             f"{sorted(norms)}")
    d = cache.load(cfg, validate)
    if d is not None:
        return Run.from_dict(d)
    bar = step_bar(steps, name, progress)
    try:
        r = train(model, p0, data, make_opt, steps, name=name, norms=norms, stop_log_loss=stop_log_loss,
                  progress=bar, n_records=n_records)
    finally:
        if bar is not None:
            bar.close()
    cache.save(cfg, r.to_dict())
    return r


def plot_runs(runs: dict, norms, path, title) -> str:
    """log10 L and the normalized margin in each norm against step + 1 (log x), one panel each. A run that stopped
    early (loss threshold reached, or diverged) ends where it stopped, lighter, with an "x" (never held flat)."""
    from ..plotting import plot_panels
    panels = [dict(title="training loss", xlabel="step + 1", ylabel="log10 loss", logx=True,
                   curves={n: (r.steps + 1, r.log_loss / math.log(10)) for n, r in runs.items()})]
    panels += [dict(title=f"normalized margin ({nm})", xlabel="step + 1", ylabel=f"normalized margin ({nm})",
                    logx=True, logy="auto", curves={n: (r.steps + 1, r.margins[nm]) for n, r in runs.items()})
               for nm in norms]
    stopped = {n: f"{r.status} at step {r.stopped_at}" for n, r in runs.items() if r.status != "ok"}
    return str(plot_panels(panels, path, suptitle=title, stopped=stopped))


def kkt_key(cfg: dict, norm: str) -> dict:
    """The cache configuration of the KKT cell of the run ``cfg`` in ``norm`` (kept in a RunCache of its own,
    experiment name "<experiment>:kkt", so the run counts of the summary stay the runs')."""
    return dict(cfg, kkt=norm, kkt_kind="measure", kkt_seconds=60.0)


def kkt_cell(run, model, data, norm: str, cache: RunCache | None = None, cfg: dict | None = None) -> dict:
    """The KKT measure of ``run``'s final iterate in ``norm``: kc.residual(...).measure (0 exactly at KKT points
    of (MM), continuous, 1/2 at lambda = 0; docs/kkt.md) and its verdict at tol 1e-2, as display strings. The
    older (eps, delta) program is skipped (pair=False): it is not shown and costs as much again. With ``cache``
    and the run's ``cfg`` the cell is read from / stored in the run cache (a solve stopped by its time limit is
    not stored, so it is tried again next time)."""
    import kktcheck as kc
    key = None if cache is None else kkt_key(cfg, norm)
    stored = None if key is None else cache.load(key, lambda d: (d["KKT measure"], d["verdict"]))
    if stored is not None:
        return stored
    try:
        res = kc.residual(run.params, data, model=model, norm=norm, pair=False, time_limit=time_limit(60.0))
        cell, final = {"KKT measure": f"{res.measure:.3g}", "verdict": res.verdict(1e-2)}, res.status != "time_limit"
    except Exception as exc:  # noqa: BLE001 - e.g. not yet separated
        cell, final = {"KKT measure": "n/a", "verdict": f"{type(exc).__name__}: {str(exc)[:60]}"}, True
    if key is not None and final:
        cache.save(key, cell)
    return cell


def kkt_rows(runs: dict, model, data, norms, cache: RunCache | None = None, cfgs: dict | None = None) -> list:
    """One row per run: ``kkt_cell`` in each norm (``cfgs``: run name -> its cache configuration)."""
    rows = []
    for name, r in runs.items():
        row = {"run": name}
        for nm in norms:
            cell = kkt_cell(r, model, data, nm, cache, None if cfgs is None else cfgs[name])
            row[f"{nm}: KKT measure"], row[f"{nm}: verdict"] = cell["KKT measure"], cell["verdict"]
        rows.append(row)
    return rows
