"""Compatibility path: the result type lives in ``proofs_numeric.results`` (below checks, optim,
experiments and report); ``from proofs_numeric.checks.result import CheckResult`` keeps working."""
from __future__ import annotations

from ..results import Case, CheckResult, Figure, Table, describe_case, verdict_text

__all__ = ["CheckResult", "Case", "Figure", "Table", "describe_case", "verdict_text"]
