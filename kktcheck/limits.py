"""One validator for wall-clock limits (``time_limit=`` of kktcheck's programs, ``max_seconds=`` of
proofs_numeric's budgets): a finite number of seconds > 0, or None for no limit."""
from __future__ import annotations

import math


def check_seconds(value, name: str = "time_limit"):
    """``value`` as a float > 0 (None stays None), or a ValueError/TypeError naming ``name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds > 0 or None, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number of seconds > 0 (or None for no limit), got {value}")
    return float(value)


__all__ = ["check_seconds"]
