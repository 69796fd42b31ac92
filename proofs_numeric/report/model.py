"""The report object: sections of CheckResults with figures and tables, run metadata, and the summary.

A check is *as expected* when a positive case passes or a negative control (a case that violates a
hypothesis of the theorem, ``CheckResult.negative_control``) fails. A section whose code raised is
"error" and one whose module is missing is "not available"; both make the run not as expected.
"""
from __future__ import annotations

import math
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata as _md


@dataclass
class Table:
    caption: str
    header: list
    rows: list                        # list of lists (cells already formatted or numbers)


@dataclass
class Section:
    title: str
    kind: str = "suite"               # "suite" | "experiment" | "kkt"
    status: str = "ok"                # "ok" | "error" | "not available"
    message: str = ""
    results: list = field(default_factory=list)   # list[CheckResult]
    figures: list = field(default_factory=list)   # PNG paths (absolute or relative to the report dir)
    tables: list = field(default_factory=list)    # list[Table]
    text: str = ""
    seconds: float = 0.0

    @property
    def as_expected(self) -> bool:
        return self.status == "ok" and all(r.as_expected for r in self.results)


@dataclass
class Report:
    title: str
    sections: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def results(self):
        return [r for s in self.sections for r in s.results]

    def counts(self) -> dict:
        res = self.results()
        return {"checks": len(res), "as_expected": sum(r.as_expected for r in res),
                "negative_controls": sum(r.negative_control for r in res),
                "negative_as_expected": sum(r.negative_control and r.as_expected for r in res),
                "errors": sum(s.status == "error" for s in self.sections),
                "not_available": sum(s.status == "not available" for s in self.sections)}

    @property
    def ok(self) -> bool:
        c = self.counts()
        return c["checks"] == c["as_expected"] and c["errors"] == 0 and c["not_available"] == 0

    def summary(self) -> str:
        c = self.counts()
        s = (f"{c['checks']} checks, {c['as_expected']} as expected "
             f"({c['negative_controls']} negative controls, {c['negative_as_expected']} of them failing as intended)")
        if c["errors"]:
            s += f"; {c['errors']} section(s) raised an error"
        if c["not_available"]:
            s += f"; {c['not_available']} section(s) not available"
        return s + (" -- ALL AS EXPECTED" if self.ok else " -- NOT ALL AS EXPECTED")


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


def run_metadata(**extra) -> dict:
    """Python/platform and package versions, plus ``extra`` (seed, wall time, command, ...)."""
    meta = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("kktcheck", "torch", "numpy", "scipy", "cvxpy", "matplotlib", "scikit-learn"):
        try:
            meta[pkg] = _md.version(pkg)
        except _md.PackageNotFoundError:
            meta[pkg] = "not installed"
    meta.update(extra)
    return meta


__all__ = ["Table", "Section", "Report", "fmt_num", "run_metadata"]
