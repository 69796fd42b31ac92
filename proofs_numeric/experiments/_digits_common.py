"""Shared plumbing of the digits experiments: threads, cached training, plots, KKT table.

Cache: ``cache.RunCache`` (one JSON per run in ``out/cache``, keyed by the run's configuration, the
experiment's CACHE_VERSION and the package version; atomic writes; unusable entries recomputed with a warning).
"""
from __future__ import annotations

import math

from kktcheck import single_threaded

from ..budget import step_bar, time_limit
from .cache import RunCache
from .digits_training import Run, train


def single_thread():
    """One torch intra-op thread and one BLAS thread (``kktcheck.single_threaded``): ~10x faster for these tiny
    matrices on a shared 2-core machine."""
    return single_threaded()


def run_cached(cache: RunCache, cfg, model, p0, data, make_opt, steps, name, norms, stop_log_loss,
               progress) -> Run:
    """The run of ``cfg`` from ``cache`` if it holds a valid one (a ``Run`` named ``name`` recording ``norms``),
    else trained with ``train`` and stored."""
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
                  progress=bar)
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


def kkt_rows(runs: dict, model, data, norms) -> list:
    """The KKT measure of each run's final iterate in each norm: kc.residual(...).measure (0 exactly at KKT
    points of (MM) in that norm, continuous, 1/2 at lambda = 0; docs/kkt.md) with its verdict at tol 1e-2.
    The older (eps, delta) program is skipped (pair=False): it is not shown and costs as much again."""
    try:
        import kktcheck as kc
        residual = kc.residual
    except Exception as exc:  # noqa: BLE001
        return [{"run": "-", "note": f"kc.residual not available: {type(exc).__name__}: {exc}"}]
    rows = []
    for name, r in runs.items():
        row = {"run": name}
        for nm in norms:
            try:
                res = residual(r.params, data, model=model, norm=nm, pair=False, time_limit=time_limit(60.0))
                row[f"{nm}: KKT measure"] = f"{res.measure:.3g}"
                row[f"{nm}: verdict"] = res.verdict(1e-2)
            except Exception as exc:  # noqa: BLE001 - e.g. not yet separated
                row[f"{nm}: KKT measure"] = "n/a"
                row[f"{nm}: verdict"] = f"{type(exc).__name__}: {str(exc)[:60]}"
        rows.append(row)
    return rows
