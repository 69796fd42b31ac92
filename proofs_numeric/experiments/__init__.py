"""The paper's experiments (our defaults; the paper's exact settings are not available), each registered by name.

``run_experiment(name, out_dir, seeds=..., quick=..., progress=..., max_seconds=...)`` runs one and returns its
``ExperimentResult``; ``proofs-numeric experiment NAME`` and ``proofs-numeric verify`` call it. ``max_seconds``
bounds the wall time (``proofs_numeric.budget``): the experiments check it at every training step and before
each KKT solve; when it ends, finished runs stay in the run cache and the result holds one row "NAME: time
budget" with verdict "no evidence" instead of the claims (``ExperimentResult.budget_stop`` says where).
"""
from __future__ import annotations

import inspect
from pathlib import Path

from .. import budget
from .base import EXPERIMENTS, Experiment, ExperimentResult, get, register
from . import adam_vs_sign, momentum_margins, shampoo_spectral, teacher_student  # noqa: F401,E402 - registration side effects


def run_experiment(name: str, out_dir, *, seeds=None, quick: bool = False, progress: bool = True,
                   max_seconds: float | None = None, **options) -> ExperimentResult:
    """Run the experiment ``name`` writing its figures and cache into ``out_dir``.

    ``seeds``: a list of integer seeds (None: the experiment's default); ``quick``: the small version used by
    ``verify --quick`` and the tests; ``max_seconds``: wall-time budget (None: only an enclosing
    ``budget.limit``, if any); ``options``: keyword arguments the experiment's run function declares
    (e.g. ``dataset``, ``data_path`` of momentum_margins), a ValueError naming them otherwise."""
    exp = get(name)
    max_seconds = budget.check_max_seconds(max_seconds)
    params = inspect.signature(exp.run).parameters
    unknown = [k for k in options if k not in params]
    if unknown:
        raise ValueError(f"experiment {name!r} takes no option(s) {unknown} (e.g. --dataset / --data-path are "
                         "for momentum_margins)")
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        if not seeds:
            raise ValueError("seeds must be a non-empty list of integers (or None for the default)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with budget.limit(max_seconds):
        try:
            budget.check(f"the start of experiment {name!r}")
            return exp.run(out, seeds=seeds, quick=quick, progress=progress, **options)
        except budget.BudgetExhausted as stop:
            return ExperimentResult(name, [budget.not_evaluated(name, stop)], seeds=list(seeds or []),
                                    summary=f"Stopped by the time budget: {stop}. Runs that finished are kept in "
                                            f"the run cache under {out} and reused by the next invocation.",
                                    budget_stop=stop.where)


__all__ = ["EXPERIMENTS", "Experiment", "ExperimentResult", "register", "get", "run_experiment"]
