"""Reusable test helpers for kktcheck users: hypothesis strategies (``kktcheck.testing.strategies``) and seeded
cases (``kktcheck.testing.cases``).

Requires the optional test dependency ``hypothesis``; kktcheck itself does not import this package.
"""
from __future__ import annotations

__all__ = ["strategies", "cases"]
