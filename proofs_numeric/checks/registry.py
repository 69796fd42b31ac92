"""Registry of theorem-check suites run by ``proofs-numeric verify``.

A suite is a function ``fn(quick: bool, figdir: Path) -> list[CheckResult]`` that builds its own default
case(s) (seeded), runs the checks and may write PNGs into ``figdir`` (listed in each ``CheckResult.figures``).
Register it with one decorator, ``@register_suite(name, section)`` (or ``@register_suite(name, section,
module="flow_checks", needs=[...])`` for ``fn(mod, quick, figdir)`` with a guarded import); ``section`` is the
report heading it is listed under
(e.g. "Flow and margins (Thm 3.1)", "KKT (Thm 3.4, Prop A.13)").

``run_suites`` runs every registered suite in registration order. An ``Exception`` inside a suite does not
stop the run: the suite is recorded with status "error" and the message (it counts as not as expected).
Under a time budget (``budget.limit``) the deadline is checked before each suite and at every step of
``flow.integrate``: a suite not started, or stopped inside a run, is recorded with status "stopped (time
budget)" and one "no evidence" row (``budget.not_evaluated``).
A suite registered with ``available=False`` (its module could not be imported) is recorded as
"not available" with the import error. ``KeyboardInterrupt`` and other ``BaseException`` propagate, so an
interrupted run writes no report.
"""
from __future__ import annotations

import importlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .. import budget
from ..results import CheckResult


@dataclass
class Suite:
    name: str
    section: str
    fn: object
    available: bool = True
    reason: str = ""          # why not available (the import error)


@dataclass
class SuiteOutcome:
    name: str
    section: str
    status: str                                   # "ok" | "error" | "not available" | STOPPED
    results: list = field(default_factory=list)   # list[CheckResult]
    message: str = ""
    seconds: float = 0.0

    @property
    def as_expected(self) -> bool:
        return self.status == "ok" and all(r.as_expected for r in self.results)


SUITES: dict = {}
STOPPED = "stopped (time budget)"   # a section the budget did not let start (or finish)


def register_suite(name: str, section: str, *, module: str | None = None, needs=(), available: bool = True,
                   reason: str = ""):
    """Decorator registering a suite under ``name`` (unique), listed under the report heading ``section``.

    Without ``module``: decorates ``fn(quick, figdir) -> list[CheckResult]``. With ``module`` (a module of
    ``proofs_numeric.checks``, imported here, guarded): decorates ``fn(mod, quick, figdir)``; when the module
    does not import or lacks a function in ``needs``, the suite is registered as "not available" with the
    reason instead, and the report says so."""
    if not isinstance(name, str) or not name:
        raise ValueError("register_suite needs a non-empty suite name")

    def deco(fn):
        if not callable(fn):
            raise TypeError(f"suite {name!r}: expected a function fn(quick, figdir), got {type(fn).__name__}")
        if module is None:
            SUITES[name] = Suite(name, section, fn, available, reason)
            return fn
        mod, err = _import_checks_module(module)
        missing = [n for n in needs if mod is not None and not hasattr(mod, n)]
        if mod is None or missing:
            register_unavailable(name, section, err or f"proofs_numeric.checks.{module} lacks {missing}")
        else:
            SUITES[name] = Suite(name, section, lambda quick, figdir: fn(mod, quick, Path(figdir)))
        return fn

    return deco


def _import_checks_module(name):
    """(module, None) or (None, 'ImportError: ...')."""
    try:
        return importlib.import_module(f"proofs_numeric.checks.{name}"), None
    except Exception as exc:  # noqa: BLE001 - reported as 'not available'
        return None, f"{type(exc).__name__}: {exc}"


def register_unavailable(name: str, section: str, reason: str) -> None:
    """Record a suite whose module is missing; the report lists it as 'not available: reason'."""
    SUITES[name] = Suite(name, section, None, False, reason)


def run_suite(suite: Suite, quick: bool, figdir: Path) -> SuiteOutcome:
    if not suite.available:
        return SuiteOutcome(suite.name, suite.section, "not available", message=suite.reason)
    t0 = time.perf_counter()
    try:
        res = suite.fn(quick, Path(figdir))
        res = [res] if isinstance(res, CheckResult) else list(res or [])
        bad = [type(r).__name__ for r in res if not isinstance(r, CheckResult)]
        if bad:
            raise TypeError(f"suite returned {bad[0]} objects, expected CheckResult")
        for r in res:
            r.suite = r.suite or suite.name
        return SuiteOutcome(suite.name, suite.section, "ok", res, seconds=time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - recorded in the report, not swallowed
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return SuiteOutcome(suite.name, suite.section, "error", message=tb, seconds=time.perf_counter() - t0)


def run_suites(quick: bool, figdir, progress: bool = True, names=None, suites: dict | None = None) -> list:
    """Run the registered suites (or those in ``names``) and return one ``SuiteOutcome`` each."""
    table = SUITES if suites is None else suites
    if names is not None:
        unknown = [n for n in names if n not in table]
        if unknown:
            raise ValueError(f"unknown suite(s) {unknown}; valid names: {sorted(table)}")
        chosen = [table[n] for n in names]
    else:
        chosen = list(table.values())
    figdir = Path(figdir)
    figdir.mkdir(parents=True, exist_ok=True)
    out = []
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(chosen, desc="theorem checks", unit="suite", leave=True)
    for suite in (bar if bar is not None else chosen):
        if bar is not None:
            bar.set_postfix_str(suite.name)
        try:
            budget.check(f"the start of suite {suite.name!r}")
            out.append(run_suite(suite, quick, figdir))   # integrate checks the deadline at every step too
        except budget.BudgetExhausted as stop:
            out.append(SuiteOutcome(suite.name, suite.section, STOPPED, [budget.not_evaluated(suite.name, stop,
                                                                                              "checks")],
                                    message=str(stop)))
    if bar is not None:
        bar.close()
    return out


__all__ = ["Suite", "SuiteOutcome", "SUITES", "register_suite", "register_unavailable", "run_suite",
           "run_suites"]
