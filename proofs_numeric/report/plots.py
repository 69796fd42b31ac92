"""Compatibility path: the figure functions live in ``proofs_numeric.plotting`` (below checks, experiments,
report and the recorder, so every figure shares one style)."""
from __future__ import annotations

from ..plotting import plot_curves, plot_panels, plot_trajectory_margins

__all__ = ["plot_trajectory_margins", "plot_curves", "plot_panels"]
