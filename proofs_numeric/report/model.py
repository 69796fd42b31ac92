"""The report object: sections of ``CheckResult`` rows with figures and tables, run metadata, and the summary.

Every row falls in one of three groups, counted separately in the summary:
* theorem checks (and asserted experiment claims): as expected when the verdict is "pass";
* negative controls (a case that violates a hypothesis, ``negative_control``): as expected when "fail";
* paper claims (``informational``): reproduced or NOT reproduced; they never decide the exit code.
A row with verdict "no evidence" is never as expected (and a paper claim with no evidence is not reproduced).
A section whose code raised is "error" and one whose module is missing is "not available"; both make the run
not as expected.
"""
from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata as _md

from ..results import Table, fmt_num


@dataclass
class Section:
    title: str
    kind: str = "suite"               # "suite" | "experiment"
    status: str = "ok"                # "ok" | "error" | "not available"
    message: str = ""
    results: list = field(default_factory=list)   # list[CheckResult]
    figures: list = field(default_factory=list)   # Figure entries or PNG paths (absolute or relative to the report)
    tables: list = field(default_factory=list)    # list[Table]
    text: str = ""
    seconds: float = 0.0
    name: str = ""                    # the suite or experiment name (``verify --suite NAME``)

    @property
    def as_expected(self) -> bool:
        return self.status == "ok" and all(r.as_expected for r in self.results if not r.informational)


@dataclass
class Report:
    title: str
    sections: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def results(self):
        return [r for s in self.sections for r in s.results]

    def counts(self) -> dict:
        res = self.results()
        checks = [r for r in res if not r.informational and not r.negative_control]
        controls = [r for r in res if not r.informational and r.negative_control]
        claims = [r for r in res if r.informational]
        return {"rows": len(res), "checks": len(checks), "checks_as_expected": sum(r.as_expected for r in checks),
                "controls": len(controls), "controls_as_expected": sum(r.as_expected for r in controls),
                "claims": len(claims), "claims_reproduced": sum(r.reproduced for r in claims),
                "no_evidence": sum(r.verdict == "no evidence" for r in res),
                "errors": sum(s.status == "error" for s in self.sections),
                "not_available": sum(s.status == "not available" for s in self.sections)}

    def not_reproduced(self) -> list:
        """The informational paper claims that did not hold on this run (or had no evidence)."""
        return [r for r in self.results() if r.informational and not r.reproduced]

    def not_as_expected(self) -> list:
        """Theorem checks and negative controls that are not as expected (they decide the exit code)."""
        return [r for r in self.results() if not r.informational and not r.as_expected]

    @property
    def ok(self) -> bool:
        """Theorem checks and negative controls decide; informational paper claims do not."""
        c = self.counts()
        return not self.not_as_expected() and c["errors"] == 0 and c["not_available"] == 0

    def verdict(self) -> str:
        if not self.ok:
            return "NOT ALL AS EXPECTED"
        if self.not_reproduced():
            return "ALL CHECKS AS EXPECTED, SOME PAPER CLAIMS NOT REPRODUCED"
        return "ALL AS EXPECTED"

    def summary_lines(self) -> list:
        """Three numbers (checks, controls, paper claims), section problems if any, and the verdict."""
        c = self.counts()
        lines = [f"theorem checks: {c['checks_as_expected']} as expected, "
                 f"{c['checks'] - c['checks_as_expected']} not",
                 f"negative controls: {c['controls_as_expected']} failing as intended, "
                 f"{c['controls'] - c['controls_as_expected']} not",
                 f"paper claims: {c['claims_reproduced']} reproduced, "
                 f"{c['claims'] - c['claims_reproduced']} NOT reproduced"]
        if c["errors"] or c["not_available"]:
            lines.append(f"sections: {c['errors']} raised an error, {c['not_available']} not available")
        return lines + [f"verdict: {self.verdict()}"]

    def summary(self) -> str:
        """The summary on one line: "theorem checks: ...; negative controls: ...; paper claims: ... -- VERDICT"."""
        return "; ".join(self.summary_lines()[:-1]) + " -- " + self.verdict()


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
