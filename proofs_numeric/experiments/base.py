"""The experiment registry and the value an experiment returns.

An experiment is a function ``run(out, *, seeds=None, quick=False, progress=True) -> ExperimentResult``
registered under a name with ``@register("name", "one-line description")``. ``ExperimentResult`` holds the
paper's claims as ``CheckResult`` rows (measured value, threshold, verdict), the PNGs written into ``out``,
named tables (lists of dict rows), a one-paragraph summary and the ``case`` (model, data, sizes, algorithms,
steps) that claims without a case of their own inherit; the report renders all of them.

Time budget: a training loop takes its per-step progress object from ``budget.step_bar`` and a bounded solve
its ``time_limit`` from ``budget.time_limit``, so ``run_experiment(..., max_seconds=...)`` stops the experiment
at the next step or solve (``budget_stop`` says where; finished runs stay cached).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class ExperimentResult:
    name: str
    claims: list = field(default_factory=list)    # CheckResult rows, one per paper claim
    figures: list = field(default_factory=list)   # paths of PNGs (inside the experiment's out dir)
    tables: dict = field(default_factory=dict)    # caption -> list of dict rows
    summary: str = ""
    title: str | None = None
    case: object = None                           # a results.Case: what ran (claims without their own case get it)
    seeds: list = field(default_factory=list)     # the seeds that actually ran (the report's metadata lists them)
    budget_stop: str = ""                         # where the time budget ended the run ("" : it did not)

    @property
    def ok(self) -> bool:
        return all(c.as_expected for c in self.claims)


def describe(claims: list, definitions: dict) -> list:
    """Set each claim's one-line ``definition`` (and, for a negative control, ``changed``) from ``definitions``:
    id prefix -> definition or (definition, changed). The longest matching prefix wins; returns ``claims``."""
    for c in claims:
        keys = [k for k in definitions if c.name.startswith(k)]
        if keys and not c.definition:
            d = definitions[max(keys, key=len)]
            c.definition, changed = (d, "") if isinstance(d, str) else d
            c.changed = c.changed or (changed if c.negative_control else "")
    return claims


@dataclass(frozen=True)
class Experiment:
    name: str
    run: Callable
    description: str = ""


EXPERIMENTS: dict = {}


def register(name: str, description: str = ""):
    """Decorator: ``@register("teacher_student", "...")`` adds ``fn`` to ``EXPERIMENTS`` (re-registering the
    same function under the same name is a no-op; a different function under a taken name is an error)."""
    def deco(fn):
        old = EXPERIMENTS.get(name)
        if old is not None and old.run.__qualname__ != fn.__qualname__:
            raise ValueError(f"experiment name {name!r} is already registered by {old.run.__module__}")
        EXPERIMENTS[name] = Experiment(name, fn, description or (fn.__doc__ or "").strip().split("\n")[0])
        return fn
    return deco


def get(name: str) -> Experiment:
    """The registered experiment, or a ValueError listing the valid names."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid names: {', '.join(sorted(EXPERIMENTS))}")
    return EXPERIMENTS[name]


__all__ = ["ExperimentResult", "Experiment", "EXPERIMENTS", "register", "get", "describe"]
