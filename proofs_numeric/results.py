"""The one typed result behind every report row: theorem checks, experiment claims and sweep rows.

This module sits below ``checks``, ``optim``, ``experiments`` and ``report`` and imports none of them (nor
torch): each of those builds ``CheckResult`` values, the report renders them to Markdown, HTML and JSON.

A row says what ran (``case``), what was measured (``definition``: one line, and ``measured``: the number),
what it is compared with (``comparison`` and ``tolerance``, e.g. ``>= 0.7``) and the outcome ``verdict``:

* ``"pass"`` / ``"fail"``: measured satisfies / violates the comparison (as decided by the check);
* ``"no evidence"``: the check had nothing to measure (no points, no separated snapshot) or the measured
  value is not finite. Such a row is never "as expected", whether it is a theorem check, a negative
  control or an informational row (a paper claim with no evidence is NOT reproduced).

A negative control (``negative_control=True``, with ``changed`` saying which hypothesis was broken) is as
expected when it fails. An informational row (``informational=True``) reports a paper's empirical claim
without asserting it: it does not decide the exit code, but the summary counts it as reproduced or not.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

VERDICTS = ("pass", "fail", "no evidence")


@dataclass
class Case:
    """What ran: model, data and its size, algorithm, norm, step rule, and how far the run got."""
    model: str = ""
    data: str = ""
    n: int | None = None          # number of samples
    d: int | None = None          # input dimension (or shape, as text, for matrix inputs)
    width: int | None = None      # hidden width, when the model has one
    algorithm: str = ""           # e.g. "l2 steepest flow (Euler)", "sign descent"
    norm: str = ""                # the algorithm's norm
    step: str = ""                # step rule, e.g. "RelativeStep(0.05), 40 steps"
    reached: str = ""             # depth reached: final log L, steps, status

    def text(self) -> str:
        """One line, e.g. "TwoLayerReLU (width 6) on separable data, n=10, d=5; l2 flow; step ...; reached ..."."""
        model = self.model + (f" (width {self.width})" if self.width else "")
        size = ", ".join(f"{k}={v}" for k, v in (("n", self.n), ("d", self.d)) if v is not None)
        parts = [" on ".join(p for p in (model, self.data) if p) + (f", {size}" if size else "")]
        if self.algorithm or self.norm:
            parts.append(self.algorithm + (f" in {self.norm}" if self.norm and self.norm not in self.algorithm
                                           else ""))
        parts += [f"step {self.step}" if self.step else "", f"reached {self.reached}" if self.reached else ""]
        return "; ".join(p for p in parts if p)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("model", "data", "n", "d", "width", "algorithm", "norm", "step",
                                              "reached")}


def describe_case(model, data, *, data_name: str = "", algorithm: str = "", norm: str = "", step: str = "",
                  reached: str = "") -> Case:
    """A ``Case`` read off a model object (class name, ``width`` or a two-layer net's W rows) and data (X, y)
    (n = len(X), d = the rest of X's shape); duck-typed so it needs neither torch nor the model classes."""
    X = data[0] if isinstance(data, (tuple, list)) and data else None
    shape = tuple(getattr(X, "shape", ()) or ())
    n = int(shape[0]) if shape else None
    d = (int(shape[1]) if len(shape) == 2 else "x".join(map(str, shape[1:]))) if len(shape) > 1 else None
    width = getattr(model, "width", None)
    W = getattr(model, "W", None)
    if width is None and "TwoLayer" in type(model).__name__ and len(getattr(W, "shape", ())) == 2:
        width = int(model.W.shape[0])        # hidden width of a two-layer net, W: (width, d)
    return Case(type(model).__name__, data_name, n, d, int(width) if isinstance(width, int) else None,
                algorithm, norm, step, reached)


def reached_text(traj) -> str:
    """How far a trajectory got: "log10 L = -3.1 after 40 steps (status success)" (duck-typed Trajectory)."""
    try:
        ll = float(traj.log_loss[-1]) / math.log(10)
        steps = int(traj.steps[-1]) if len(getattr(traj, "steps", [])) else len(traj.log_loss) - 1
    except (AttributeError, IndexError, TypeError):
        return ""
    sep = "" if getattr(traj, "t0_index", 0) is not None else ", never separated"
    depth = getattr(traj, "log_depth", None)
    if not math.isfinite(ll) and depth is not None and math.isfinite(float(depth[-1])):   # beyond float64
        return (f"log10 L = -10^{float(depth[-1]) / math.log(10) - math.log10(math.log(10)):.4g} after {steps} steps "
                f"(status {getattr(traj, 'status', '?')}{sep})")
    return f"log10 L = {ll:.4g} after {steps} steps (status {getattr(traj, 'status', '?')}{sep})"


def fmt_num(x) -> str:
    """Numbers in 4 significant digits; bools, None and non-numbers as text."""
    if isinstance(x, bool) or x is None:
        return str(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.4g}"
    return f"{v:.4g}" if not float(v).is_integer() else str(int(v))


@dataclass
class Figure:
    """A PNG with a caption naming the run it shows. ``os.fspath(fig)`` is its path."""
    path: str
    caption: str = ""

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


@dataclass
class Table:
    caption: str
    header: list
    rows: list                        # list of lists (cells already formatted or numbers)


def figure_path(f) -> str:
    """The path of a figure entry (a ``Figure``, a str or a Path)."""
    return os.fspath(f)


def figure_caption(f) -> str:
    return getattr(f, "caption", "") or ""


@dataclass
class CheckResult:
    name: str              # short id, e.g. "thm3.1-monotone-linf"
    claim: str             # one line: what the theorem says on this case
    measured: float        # the number behind the verdict
    tolerance: float       # the threshold it is compared with
    passed: bool           # the check's decision (forced to False when there is no evidence)
    comparison: str = "<="  # how measured relates to tolerance when passing ("<=", ">=", ">")
    detail: dict = field(default_factory=dict)   # further numbers for tests and JSON (never read by the report)
    negative_control: bool = False               # True: this case violates a hypothesis and SHOULD fail
    figures: list = field(default_factory=list)  # Figure entries (or paths) written for this check
    informational: bool = False                  # True: a paper's claim we report but do not assert
    definition: str = ""   # one line: what "measured" is
    changed: str = ""      # for a negative control: what was changed relative to the positive case
    case: Case | None = None
    suite: str = ""        # set by the suite registry
    evidence: bool = True  # False: the check had no points / no separated snapshots to measure on
    tables: list = field(default_factory=list)   # Table values rendered below the section's rows

    def __post_init__(self):
        try:
            self.measured = float(self.measured)
        except (TypeError, ValueError):
            self.measured = math.nan
        self.passed = bool(self.passed) and self.has_evidence

    @property
    def has_evidence(self) -> bool:
        return bool(self.evidence) and math.isfinite(self.measured)

    @property
    def verdict(self) -> str:
        """"pass", "fail" or "no evidence" (no points, or a non-finite measured value)."""
        if not self.has_evidence:
            return "no evidence"
        return "pass" if self.passed else "fail"

    @property
    def kind(self) -> str:
        """"claim" (informational paper claim), "control" (negative control) or "check"."""
        return "claim" if self.informational else ("control" if self.negative_control else "check")

    @property
    def as_expected(self) -> bool:
        """A positive check passes; a negative control fails; an informational row is never "not as expected"
        unless it has no evidence. A row with no evidence is never as expected."""
        if not self.has_evidence:
            return False
        return self.informational or self.passed != self.negative_control

    @property
    def reproduced(self) -> bool:
        """For an informational paper claim: the claim holds on this run (a control of a claim: it fails)."""
        return self.has_evidence and self.passed != self.negative_control

    @property
    def threshold(self) -> str:
        """The pass condition as text, e.g. ">= 0.7" (numbers as in the report tables)."""
        return f"{self.comparison} {fmt_num(self.tolerance)}"

    def row(self) -> dict:
        return {"check": self.name, "claim": self.claim, "measured": self.measured,
                "tolerance": f"{self.comparison} {self.tolerance:.3g}",
                "verdict": verdict_text(self), "as_expected": self.as_expected}

    def to_dict(self) -> dict:
        """The machine-readable row of report.json."""
        m = self.measured
        return {"id": self.name, "suite": self.suite, "claim": self.claim, "definition": self.definition,
                "measured": m if math.isfinite(m) else str(m), "threshold": self.threshold,
                "comparison": self.comparison, "tolerance": self.tolerance, "verdict": self.verdict,
                "as_expected": self.as_expected, "is_control": self.negative_control, "changed": self.changed,
                "informational": self.informational, "case": self.case.to_dict() if self.case else None,
                "figures": [figure_path(f) for f in self.figures]}


def verdict_text(r) -> str:
    """PASS / FAIL / NO EVIDENCE, tagged "(negative control)" or "(informational)"."""
    tag = " (negative control)" if r.negative_control else ""
    tag += " (informational)" if r.informational else ""
    v = getattr(r, "verdict", "pass" if r.passed else "fail")
    return v.upper() + tag


__all__ = ["VERDICTS", "fmt_num", "Case", "describe_case", "reached_text", "Figure", "Table", "figure_path",
           "figure_caption", "CheckResult", "verdict_text"]
