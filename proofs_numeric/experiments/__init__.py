"""The paper's experiments (our defaults; the paper's exact settings are not available), each registered by name.

``run_experiment(name, out_dir, seeds=..., quick=..., progress=...)`` runs one and returns its
``ExperimentResult``; ``proofs-numeric experiment NAME`` and ``proofs-numeric verify`` call it.
"""
from __future__ import annotations

import inspect
from pathlib import Path

from .base import EXPERIMENTS, Experiment, ExperimentResult, get, register
from . import adam_vs_sign, momentum_margins, shampoo_spectral, teacher_student  # noqa: F401,E402 - registration side effects


def run_experiment(name: str, out_dir, *, seeds=None, quick: bool = False, progress: bool = True,
                   **options) -> ExperimentResult:
    """Run the experiment ``name`` writing its figures and cache into ``out_dir``.

    ``seeds``: a list of integer seeds (None: the experiment's default); ``quick``: the small version used by
    ``verify --quick`` and the tests; ``options``: keyword arguments the experiment's run function declares
    (e.g. ``dataset``, ``data_path`` of momentum_margins), a ValueError naming them otherwise."""
    exp = get(name)
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
    return exp.run(out, seeds=seeds, quick=quick, progress=progress, **options)


__all__ = ["EXPERIMENTS", "Experiment", "ExperimentResult", "register", "get", "run_experiment"]
