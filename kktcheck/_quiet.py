"""Quiet solvers: no solver banner on stdout.

HiGHS (the LP solver cvxpy calls for l1/linf programs) prints its copyright banner from the C++ constructor
of the first ``highspy.Highs()`` in a process, before any option (``output_flag``, ``log_to_console``) can be
set, so cvxpy's ``verbose=False`` cannot stop it. ``silence_highs_banner`` constructs that first instance once
with file descriptor 1 pointed at /dev/null; every later instance is silent, and the solvers' own logging is
turned off by ``verbose=False``. Clarabel prints nothing unless ``verbose=True``.
"""
from __future__ import annotations

import os
import sys
import threading

_lock = threading.Lock()
_done = False


def silence_highs_banner() -> None:
    """Absorb HiGHS's once-per-process banner (no-op when highspy is missing or after the first call)."""
    global _done
    with _lock:
        if _done:
            return
        _done = True
        try:
            import highspy
        except ImportError:
            return
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                try:
                    highspy.Highs()
                finally:
                    os.dup2(saved, 1)
        finally:
            os.close(saved)


__all__ = ["silence_highs_banner"]
