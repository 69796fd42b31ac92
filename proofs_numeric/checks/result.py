"""A theorem check's outcome: the claim, the number measured, the tolerance, and the verdict.

Checks are plain functions returning ``CheckResult``; tests assert ``passed`` (and ``not passed``
on the negative control), the report tabulates them.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckResult:
    name: str              # short id, e.g. "thm3.1-monotone-linf"
    claim: str             # one line: what the theorem says on this case
    measured: float        # the number behind the verdict
    tolerance: float       # the threshold it is compared with
    passed: bool
    comparison: str = "<="  # how measured relates to tolerance when passing ("<=", ">=")
    detail: dict = field(default_factory=dict)   # further numbers (orders, fitted slopes, counts)
    negative_control: bool = False               # True: this case violates a hypothesis and SHOULD fail
    figures: list = field(default_factory=list)  # paths of PNGs written for this check
    informational: bool = False                  # True: a measured comparison we report but do not claim

    @property
    def as_expected(self) -> bool:
        """A positive check passes; a negative control fails; an informational row is never "not as expected"."""
        return self.informational or self.passed != self.negative_control

    def row(self) -> dict:
        return {"check": self.name, "claim": self.claim, "measured": self.measured,
                "tolerance": f"{self.comparison} {self.tolerance:.3g}",
                "verdict": verdict_text(self),
                "as_expected": self.as_expected}


def verdict_text(r) -> str:
    """PASS/FAIL, tagged "(negative control)" or "(informational)"."""
    tag = " (negative control)" if r.negative_control else (" (informational)" if r.informational else "")
    return ("PASS" if r.passed else "FAIL") + tag
