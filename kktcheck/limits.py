"""Resource limits, checked before any work: wall-clock seconds (``time_limit=`` of kktcheck's programs,
``max_seconds=`` of proofs_numeric's budgets: a finite number of seconds > 0, or None for no limit) and the
size of a convex program's data (``max_size=``: the number of float64 entries of its constraint matrix)."""
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


def check_size(entries: int, max_size, what: str) -> None:
    """Refuse a program whose data has more than ``max_size`` float64 entries, before building it (None: no
    limit). ``what`` names the program and how ``entries`` was counted."""
    if max_size is None:
        return
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise ValueError(f"max_size must be a positive integer number of entries (or None), got {max_size!r}")
    if entries > max_size:
        raise ValueError(f"{what} has {entries:,} entries (about {8 * entries / 2**30:.1f} GiB as float64 before the "
                         f"solver's own copies), more than max_size = {max_size:,}: pass a larger max_size= (or "
                         "None) if the machine has the memory, or solve a smaller problem")


__all__ = ["check_seconds", "check_size"]
