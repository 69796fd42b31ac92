"""The runs of ``shampoo_spectral`` (paper Fig. 3): optimizers, cache configurations, and the jobs
``_pool.prefill`` runs in worker processes (each job one run, or one KKT cell of a run, stored in the run cache).

Model: TwoLayerReLU(64, 100, train_output=False) (second layer frozen), init N(0, 0.01^2); each seed s draws its
own 100-point subsample of the pair and its own init (``torch.Generator().manual_seed(s)``). Every run trains
until the mean logistic loss first falls below ``depth`` or ``cap`` steps.
"""
from __future__ import annotations

import math

from kktcheck import single_threaded

from ._digits_common import kkt_cell, kkt_key, run_cached
from ._shampoo_sweep import GRID_FULL, TREND_CONTROL, spectral_kkt_cell, spectral_kkt_key
from .cache import RunCache

NORMS = ("spectral", "l2", "linf")
SPECTRAL_KKT_SECONDS = 120.0


def make_optimizer(name: str, grid=GRID_FULL + (TREND_CONTROL,)):
    """The optimizer factory of a base run or of a Shampoo configuration (by its ``ShampooConfig.name``)."""
    from .. import optim as O
    table = {"GD": lambda p: O.SteepestDescent(p, lr=50.0, norm="l2"),
             "Adam": lambda p: O.Adam(p, lr=1e-2, betas=(0.0, 0.999), eps=1e-8),
             "Spectral descent": lambda p: O.ShampooNoAccumulation(p, lr=1e-2), **{c.name: c.make for c in grid}}
    if name not in table:
        raise ValueError(f"unknown algorithm {name!r}; valid: {', '.join(table)}")
    return table[name]


def _setup(pair, seed):
    """Seed ``seed``'s data (its own subsample of the pair), the frozen-output model and its init."""
    import torch
    from ..datasets.digits import load_digits_pair
    from ..models import TwoLayerReLU
    model = TwoLayerReLU(64, 100, train_output=False)
    p0 = model.init(1e-2, torch.Generator().manual_seed(seed))
    return load_digits_pair(pair[0], pair[1], 100, seed=seed), model, p0


def run_config(pair, cap, depth, seed, name) -> dict:
    """The run cache configuration of ``name`` (a base algorithm or a ShampooConfig name)."""
    return dict(pair=list(pair), algo=name, steps=cap, stop_loss=depth, seed=seed, init=1e-2)


def _one_run(cache, setup, pair, cap, depth, seed, name, progress):
    ds, model, p0 = setup
    return run_cached(cache, run_config(pair, cap, depth, seed, name), model, p0, ds.train, make_optimizer(name),
                      cap, name, NORMS, math.log(depth), progress)


def train_run(cache_dir, version, pair, cap, depth, seed, name) -> bool:
    """Worker job (``_pool.prefill``): train one run into the cache at ``cache_dir`` (the experiment's
    CACHE_VERSION ``version``); True if it was trained."""
    cache = RunCache(cache_dir, "shampoo_spectral", version)
    with single_threaded():
        _one_run(cache, _setup(pair, seed), pair, cap, depth, seed, name, False)
    return cache.misses > 0


def _runs(pair, cap, depth, seed, names, cache, progress):
    """The runs ``names`` (base algorithms or ShampooConfig names) on ``pair`` with ``seed``'s subsample and
    init, each until loss < ``depth`` or ``cap`` steps (cached)."""
    setup = _setup(pair, seed)
    runs = {name: _one_run(cache, setup, pair, cap, depth, seed, name, progress) for name in names}
    return setup[0], setup[1], runs


def jobs(version, pair, cap, depth, seeds, names) -> list:
    """The runs ``names`` on every seed of ``seeds`` as ``_pool.prefill`` jobs."""
    return [(train_run, dict(version=version, pair=tuple(pair), cap=cap, depth=depth, seed=s, name=n),
             run_config(pair, cap, depth, s, n)) for s in seeds for n in names]


def kkt_job(cache_dir, version, pair, cap, depth, seed, name, norm) -> bool:
    """Worker job: the KKT cell of one run's final iterate in ``norm`` (l2 / linf: ``kkt_cell``; spectral:
    ``spectral_kkt_cell``, 120 s), stored in the KKT cache."""
    kcache = RunCache(cache_dir, "shampoo_spectral:kkt", version)
    with single_threaded():
        ds, model, p0 = setup = _setup(pair, seed)
        run = _one_run(RunCache(cache_dir, "shampoo_spectral", version), setup, pair, cap, depth, seed, name, False)
        cfg = run_config(pair, cap, depth, seed, name)
        if norm == "spectral":
            spectral_kkt_cell(run, model, ds.train, SPECTRAL_KKT_SECONDS, kcache, cfg)
        else:
            kkt_cell(run, model, ds.train, norm, kcache, cfg)
    return kcache.misses > 0


def kkt_jobs(version, pair, cap, depth, seed, names) -> list:
    """The KKT cells (l2, linf, spectral) of the runs ``names`` on ``seed`` as ``_pool.prefill`` jobs."""
    return [(kkt_job, dict(version=version, pair=tuple(pair), cap=cap, depth=depth, seed=seed, name=n, norm=nm),
             kkt_key(run_config(pair, cap, depth, seed, n), nm) if nm != "spectral" else
             spectral_kkt_key(run_config(pair, cap, depth, seed, n), SPECTRAL_KKT_SECONDS))
            for n in names for nm in ("spectral", "l2", "linf")]


__all__ = ["NORMS", "SPECTRAL_KKT_SECONDS", "make_optimizer", "run_config", "train_run", "jobs", "kkt_job",
           "kkt_jobs"]
