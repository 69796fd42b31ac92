"""The runs of ``adam_vs_sign`` (paper Fig. 2): optimizers, cache configurations, and the jobs ``_pool.prefill``
trains in worker processes (each job one run, or one KKT cell of a run, stored in the shared run cache).

Each seed s draws its own 100-point training subsample (``load_digits_pair(..., seed=s)``) and its own init
(``torch.Generator().manual_seed(s)``), TwoLayerReLU(64, 100) with both layers trained, init N(0, 0.01^2).
"""
from __future__ import annotations

import math

from kktcheck import single_threaded

from . import _adam_depth as D
from ._digits_common import kkt_cell, kkt_key, run_cached
from .cache import RunCache

ALGOS = ("GD", "SD", "Adam eps=1e-8", "Adam eps=1e-4", "Adam eps=0", "Adam beta1=0")
CACHE_VERSION = 3       # part of every cache key: bump when training or the recorded fields change
SEEDS, SEEDS_QUICK = (0, 1, 2), (0,)


def make_optimizer(name: str, gd_lr=1.0, lr=1e-3, schedule=None):
    """The optimizer factory of ``name``; ``schedule`` (default constant 1) multiplies the step, eta_t = lr s(t)."""
    from .. import optim as O
    table = {
        "GD": lambda p: O.SteepestDescent(p, lr=gd_lr, norm="l2", schedule=schedule),
        "SD": lambda p: O.SignDescent(p, lr=lr, normalized=True, schedule=schedule),
        "Adam eps=1e-8": lambda p: O.Adam(p, lr=lr, eps=1e-8, schedule=schedule),
        "Adam eps=1e-4": lambda p: O.Adam(p, lr=lr, eps=1e-4, schedule=schedule),
        "Adam eps=0": lambda p: O.Adam(p, lr=lr, eps=0.0, schedule=schedule),
        "Adam beta1=0": lambda p: O.Adam(p, lr=lr, betas=(0.0, 0.999), eps=1e-8, schedule=schedule),
    }
    if name not in table:
        raise ValueError(f"unknown algorithm {name!r}; valid: {', '.join(table)}")
    return table[name]


def _setup(pair, seed):
    """Seed ``seed``'s data (its own 100-point subsample of the pair), the model and its init."""
    from ..datasets.digits import load_digits_pair
    from ..models import TwoLayerReLU
    import torch
    model = TwoLayerReLU(64, 100)
    p0 = model.init(1e-2, torch.Generator().manual_seed(seed))
    return load_digits_pair(pair[0], pair[1], 100, seed=seed), model, p0


def run_config(pair, seed, steps, name) -> dict:
    """The run cache configuration of algorithm ``name`` on ``pair`` and ``seed``."""
    return dict(pair=list(pair), algo=name, steps=steps, seed=seed, init=1e-2, width=100)


def _one_run(cache, setup, pair, seed, steps, name, progress):
    ds, model, p0 = setup
    stop = math.log(1e-12) if name == "SD" else -700.0
    return run_cached(cache, run_config(pair, seed, steps, name), model, p0, ds.train, make_optimizer(name), steps,
                      name, ("l2", "linf"), stop, progress)


def _depth_run(cache, setup, pair, seed, algo, progress):
    """``algo`` continued after the constant-step prefix with the increasing schedule of ``_adam_depth``."""
    ds, model, p0 = setup
    cfg = dict(run_config(pair, seed, D.CAP, D.depth_name(algo)), **D.depth_config(algo))
    return run_cached(cache, cfg, model, p0, ds.train, make_optimizer(algo, schedule=D.schedule(algo)), D.CAP,
                      D.depth_name(algo), ("l2", "linf"), math.log(D.DEEP), progress, n_records=D.N_RECORDS)


def train_run(cache_dir, pair, seed, steps, name, depth=False) -> bool:
    """Worker job (``_pool.prefill``): train one run (``depth``: its scheduled continuation) into the cache at
    ``cache_dir``; True if it was trained."""
    cache = RunCache(cache_dir, "adam_vs_sign", CACHE_VERSION)
    with single_threaded():
        if depth:
            _depth_run(cache, _setup(pair, seed), pair, seed, name, False)
        else:
            _one_run(cache, _setup(pair, seed), pair, seed, steps, name, False)
    return cache.misses > 0


def run_jobs(pairs, seeds, steps, depth=False) -> list:
    """Every run of the experiment as a ``_pool.prefill`` job (the long scheduled runs first)."""
    deep = [(train_run, dict(pair=tuple(p), seed=s, steps=steps, name=n, depth=True),
             dict(run_config(p, s, D.CAP, D.depth_name(n)), **D.depth_config(n)))
            for p in pairs for s in seeds for n in D.RUNS] if depth else []
    return deep + [(train_run, dict(pair=tuple(p), seed=s, steps=steps, name=n), run_config(p, s, steps, n))
                   for p in pairs for s in seeds for n in ALGOS]


def kkt_job(cache_dir, pair, seed, steps, name, norm) -> bool:
    """Worker job: the KKT cell of one run's final iterate in ``norm`` (``kkt_cell``), stored in the KKT cache."""
    kcache = RunCache(cache_dir, "adam_vs_sign:kkt", CACHE_VERSION)
    with single_threaded():
        ds, model, p0 = setup = _setup(pair, seed)
        run = _one_run(RunCache(cache_dir, "adam_vs_sign", CACHE_VERSION), setup, pair, seed, steps, name, False)
        kkt_cell(run, model, ds.train, norm, kcache, run_config(pair, seed, steps, name))
    return kcache.misses > 0


def kkt_jobs(pairs, seed, steps, names) -> list:
    return [(kkt_job, dict(pair=tuple(p), seed=seed, steps=steps, name=n, norm=nm),
             kkt_key(run_config(p, seed, steps, n), nm)) for p in pairs for n in names for nm in ("l2", "linf")]


def _pair_runs(pair, steps, seed, progress, cache):
    """The runs of all ALGOS on one digit pair and seed (subsample and init drawn from ``seed``), cached."""
    if not isinstance(cache, RunCache):
        cache = RunCache(cache, "adam_vs_sign", CACHE_VERSION)
    setup = _setup(pair, seed)
    runs = {name: _one_run(cache, setup, pair, seed, steps, name, progress) for name in ALGOS}
    return setup[0], setup[1], runs



__all__ = ["ALGOS", "CACHE_VERSION", "make_optimizer", "run_config", "train_run", "run_jobs", "kkt_job", "kkt_jobs"]
