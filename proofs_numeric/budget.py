"""One wall-clock budget for long runs: ``verify`` and the experiments stop cleanly when it ends.

``limit(max_seconds)`` is a context manager that makes a ``Deadline`` (t0 + max_seconds on the monotonic clock)
the current one for the code inside it; nested limits keep the earlier of the two deadlines. Long-running code
asks the current deadline at its natural break points, never in between:

* ``step_bar(total, desc, progress)``: the progress object a training loop calls ``update(1)`` on once per
  step; it shows a tqdm bar when ``progress`` is true and checks the deadline at every step;
* ``time_limit(seconds)``: the time limit to hand to a bounded call (e.g. ``kc.residual(time_limit=...)``),
  ``min(seconds, remaining)``;
* ``check(where)``: between runs or suites.

Each raises ``BudgetExhausted(where, seconds)`` once the deadline has passed. It derives from ``BaseException``
(like ``KeyboardInterrupt``), so an ``except Exception`` meant for a failed solve does not swallow it. The
caller that set the budget catches it and reports what was not evaluated with ``not_evaluated(...)``: a row
with verdict "no evidence", never a pass. Results already written (the experiments' run caches, which write
each finished run atomically) are kept and reused by the next invocation.

Without a current limit nothing is checked and ``step_bar`` returns None when ``progress`` is false (the
training loops then skip the progress call), so an unlimited run costs nothing extra.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import time

from kktcheck import check_seconds

from .results import CheckResult

_CURRENT: contextvars.ContextVar = contextvars.ContextVar("proofs_numeric_deadline", default=None)


class BudgetExhausted(BaseException):
    """The time budget ended the run at ``where``, after ``seconds`` of a budget of ``max_seconds``."""

    def __init__(self, where: str, seconds: float, max_seconds: float):
        super().__init__(f"the time budget of {max_seconds:g} s ended the run at {where} (after {seconds:.1f} s)")
        self.where, self.seconds, self.max_seconds = where, seconds, max_seconds


def check_max_seconds(max_seconds, name: str = "max_seconds"):
    """``max_seconds`` as a float > 0 (None stays None), or a ValueError/TypeError naming ``name``."""
    return check_seconds(max_seconds, name)


class Deadline:
    """``max_seconds`` of wall time from now (monotonic clock)."""

    def __init__(self, max_seconds: float):
        self.max_seconds = check_max_seconds(max_seconds)
        self.start = time.monotonic()
        self.end = self.start + self.max_seconds

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def check(self, where: str) -> None:
        if time.monotonic() >= self.end:
            raise BudgetExhausted(where, self.elapsed(), self.max_seconds)


def current() -> Deadline | None:
    """The deadline set by the innermost ``limit`` (None: unlimited)."""
    return _CURRENT.get()


@contextlib.contextmanager
def limit(max_seconds=None):
    """Run the body under a budget of ``max_seconds`` (None: keep the current budget, if any); yields the
    deadline in force (None when unlimited). An enclosing earlier deadline stays in force."""
    outer = current()
    if max_seconds is None:
        yield outer
        return
    inner = Deadline(max_seconds)
    chosen = outer if outer is not None and outer.end <= inner.end else inner
    token = _CURRENT.set(chosen)
    try:
        yield chosen
    finally:
        _CURRENT.reset(token)


def check(where: str) -> None:
    """Raise ``BudgetExhausted`` if the current deadline has passed (no-op without a limit)."""
    dl = current()
    if dl is not None:
        dl.check(where)


def time_limit(seconds: float, where: str = "a time-limited call") -> float:
    """``min(seconds, remaining budget)`` for a call that takes a ``time_limit``; raises ``BudgetExhausted``
    when nothing remains."""
    dl = current()
    if dl is None:
        return seconds
    dl.check(where)
    return min(float(seconds), dl.remaining())


class _StepBar:
    """``update(1)`` once per step: advances the optional tqdm bar, then checks the deadline."""

    def __init__(self, bar, desc: str, deadline: Deadline | None):
        self.bar, self.desc, self.deadline, self.n = bar, desc, deadline, 0

    def update(self, k: int = 1) -> None:
        self.n += k
        if self.bar is not None:
            self.bar.update(k)
        if self.deadline is not None:
            self.deadline.check(f"{self.desc}, step {self.n}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def step_bar(total: int, desc: str, progress: bool):
    """The per-step progress object for a training loop of ``total`` steps named ``desc``: a tqdm bar if
    ``progress``, a deadline check per step if a limit is in force; None when neither (nothing to call)."""
    dl = current()
    if not progress and dl is None:
        return None
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, desc=desc, leave=False)
    return _StepBar(bar, desc, dl)


def not_evaluated(name: str, stop: BudgetExhausted, what: str = "claims") -> CheckResult:
    """The row standing for everything of ``name`` the budget stopped: verdict "no evidence" (never a pass),
    not informational, so the run is not reported as all as expected."""
    return CheckResult(f"{name}: time budget", f"the {what} of {name} were not evaluated: {stop}; finished runs "
                       "are kept in the run cache and reused by the next invocation (raise --max-seconds)",
                       math.nan, stop.max_seconds, False, "<=",
                       {"where": stop.where, "seconds": stop.seconds, "max_seconds": stop.max_seconds},
                       evidence=False, definition="wall-clock seconds available to this section (the budget)")


__all__ = ["BudgetExhausted", "Deadline", "check_max_seconds", "current", "limit", "check", "time_limit",
           "step_bar", "not_evaluated"]
