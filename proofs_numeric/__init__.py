"""proofs_numeric: steepest-flow dynamics on homogeneous networks, experiments, theorem checks, reports."""
from __future__ import annotations

import importlib

from . import models
from .record import Recorder, record
from .results import CheckResult

_SUBMODULES = ("flow", "optim", "losses", "checks", "experiments", "report", "datasets", "results", "plotting")
_ALIASES = {"data": "datasets"}  # pn.data was advertised before the package was named datasets

__all__ = ["models", "record", "Recorder", "CheckResult", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES or name in _ALIASES:
        return importlib.import_module(f".{_ALIASES.get(name, name)}", __name__)
    raise AttributeError(f"module 'proofs_numeric' has no attribute {name!r}")
