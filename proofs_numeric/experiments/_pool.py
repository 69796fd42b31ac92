"""The cached runs of an experiment trained up front in ``workers`` processes (full runs: 2, one per core).

A job is ``(function, kwargs, cfg)``: ``function(cache_dir, **kwargs)`` trains ONE run and stores it in the
shared run cache under ``cfg`` (``cache.RunCache`` writes each entry atomically, so two processes never see
half a file and an interrupted job leaves no entry). ``prefill`` starts only the jobs whose entry is missing;
the experiment then runs its usual loop, which reads every run from the cache. So the results are the ones a
single process gives: each run is the same deterministic computation (one torch thread, the run's own seed and
data), whichever process does it (tested: the cache entries are byte-identical). Resuming works as before:
finished runs stay cached, the next invocation trains only what is missing.

A run trained by a worker counts as "trained" in the experiment's cache summary, not as "reused"
(``PrefilledCache``). Inside a time budget (``budget.limit``) each worker gets the remaining seconds; a worker
stopped by the budget trains nothing more, and the experiment's own loop then stops at the deadline as before.
Worker processes are forked where the platform offers it (as torch's DataLoader does: nothing to re-import; each
worker then sets one torch thread), else spawned.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from .. import budget
from .cache import RunCache


class PrefilledCache(RunCache):
    """A RunCache that counts the entries written by ``prefill``'s workers in this invocation as trained."""

    def __init__(self, directory, experiment: str, version: int):
        super().__init__(directory, experiment, version)
        self.prefilled: set = set()

    def load(self, cfg: dict, validate=None):
        payload = super().load(cfg, validate)
        if payload is not None and self.key(cfg) in self.prefilled:
            self.hits, self.misses = self.hits - 1, self.misses + 1
        return payload


def default_workers(quick: bool) -> int:
    """2 processes for a full run (one per core of the 2-core target machine), 1 (in-process) for quick."""
    return 1 if quick else max(1, min(2, os.cpu_count() or 1))


def check_workers(workers) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer (processes that train the runs), got {workers!r}")
    return workers


def _work(function, cache_dir: str, kwargs: dict, seconds):
    """Worker body: one torch and one BLAS thread, the caller's remaining budget; returns "trained", "cached" or
    "budget"."""
    from kktcheck import single_threaded
    try:
        with single_threaded(), budget.limit(seconds):
            return "trained" if function(cache_dir, **kwargs) else "cached"
    except budget.BudgetExhausted:
        return "budget"


def prefill(jobs, cache: PrefilledCache, workers: int, progress: bool = False) -> int:
    """Train the missing runs of ``jobs`` (list of ``(function, kwargs, cfg)``) in ``workers`` processes;
    returns how many were trained. With ``workers`` = 1 or at most one missing run nothing is done here (the
    experiment's loop trains it in-process)."""
    workers = check_workers(workers)
    todo = [(f, kw, cfg) for f, kw, cfg in jobs if not cache.path(cfg).is_file()]
    if workers == 1 or len(todo) <= 1:
        return 0
    deadline = budget.current()
    seconds = None if deadline is None else max(deadline.remaining(), 1e-3)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(todo), desc=f"runs in {workers} processes", leave=False)
    trained = 0
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as pool:
        futures = {pool.submit(_work, f, str(cache.dir), kw, seconds): cfg for f, kw, cfg in todo}
        for fut in as_completed(futures):
            if fut.result() == "trained":
                trained += 1
                cache.prefilled.add(cache.key(futures[fut]))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return trained


__all__ = ["PrefilledCache", "prefill", "default_workers", "check_workers"]
