"""Shared plumbing of the digits experiments: threads, cache, plots, KKT table.

Cache: one JSON per run in ``out/cache``, keyed by the SHA-256 of the run's configuration; a finished run
is reused, a run is written to a temporary name then renamed (an interrupted run leaves no entry).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from pathlib import Path

import torch

from .digits_training import Run, train


@contextlib.contextmanager
def single_thread():
    """torch with one intra-op thread: ~10x faster for these tiny matrices on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def run_cached(cache_dir, cfg, model, p0, data, make_opt, steps, name, norms, stop_log_loss, progress) -> Run:
    key = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"{key}.json"
    if path.is_file():
        try:
            return Run.from_dict(json.loads(path.read_text()))
        except Exception:  # noqa: BLE001 - corrupt cache entry: recompute
            pass
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc=name, leave=False)
    try:
        r = train(model, p0, data, make_opt, steps, name=name, norms=norms, stop_log_loss=stop_log_loss,
                  progress=bar)
    finally:
        if bar is not None:
            bar.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(r.to_dict()))
    os.replace(tmp, path)
    return r


def plot_runs(runs: dict, norms, path, title) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(norms) + 1, figsize=(4.2 * (len(norms) + 1), 3.6))
    last = max(int(r.steps[-1]) for r in runs.values())
    for name, r in runs.items():
        s = list(r.steps + 1) + ([last + 1] if r.steps[-1] < last else [])
        hold = lambda v: list(v) + ([v[-1]] if r.steps[-1] < last else [])  # noqa: E731 - held flat
        axes[0].plot(s, hold(r.log_loss / math.log(10)), label=name)
        for ax, nm in zip(axes[1:], norms):
            ax.plot(s, hold(r.margins[nm]), label=name)
    axes[0].set_ylabel("log10 loss")
    for ax, nm in zip(axes[1:], norms):
        ax.set_ylabel(f"normalized margin ({nm})")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("step + 1")
    axes[-1].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return str(path)


def kkt_rows(runs: dict, model, data, norms) -> list:
    """kc.residual of each run's final iterate in each norm (max(eps_rel, delta_rel) and status)."""
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
                res = residual(r.params, data, model=model, norm=nm)
                row[f"{nm}: max(eps_rel, delta_rel)"] = f"{max(res.stationarity_rel, res.complementarity_rel):.3g}"
                row[f"{nm}: status"] = res.status
            except Exception as exc:  # noqa: BLE001 - e.g. not yet separated
                row[f"{nm}: max(eps_rel, delta_rel)"] = "n/a"
                row[f"{nm}: status"] = f"{type(exc).__name__}: {str(exc)[:60]}"
        rows.append(row)
    return rows
