"""Figures for the reports (matplotlib, Agg backend, PNG files).

* ``plot_trajectory_margins``: the normalized margins gamma_k(t) = min_i q_i / ||theta||_k^L (or the soft
  margins, SPEC section 3) of one or more trajectories against time on log-log axes, one panel per norm k.
  Only the records from ``t0_index`` on are drawn (the theory speaks about the phase L < 1, where the soft
  margin is positive). The time axis is the loss-normalized time s (ds = L dt) when it is positive, otherwise
  log t (the flow's own time, which overflows in the late phase); non-positive values are dropped because the
  axes are logarithmic.
* ``plot_curves``: a generic line plot of labelled (x, y) curves.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _finite_positive(x, y, logx, logy):
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    keep = np.isfinite(x) & np.isfinite(y)
    if logx:
        keep &= x > 0
    if logy:
        keep &= y > 0
    return x[keep], y[keep]


def _time_axis(traj):
    """(x array, label): loss-normalized time s if it is positive after t0, else log t."""
    i0 = traj.t0_index or 0
    s = np.asarray(traj.s, dtype=np.float64)[i0:]
    if s.size and np.all(s[np.isfinite(s)] > 0) and np.isfinite(s).any():
        return s, "loss-normalized time s"
    return np.asarray(traj.log_t, dtype=np.float64)[i0:], "log t"


def _margin_series(traj, norm, soft):
    table = traj.soft_margins if soft else traj.margins
    if norm in table:
        arr = table[norm]
    elif norm == traj.norm:
        arr = traj.soft_margin if soft else traj.margin
    else:
        return None
    i0 = traj.t0_index or 0
    return np.asarray(arr, dtype=np.float64)[i0:]


def plot_trajectory_margins(trajectories: dict, path, norms=("l1", "l2", "linf"), soft: bool = False) -> Path:
    """Margins (hard, or soft with ``soft=True``) vs time, log-log, one panel per norm; one line per
    trajectory (label -> Trajectory). Trajectories that never separated (t0_index None) are drawn from the
    first record and marked "(not separated)" in the legend. Returns the PNG path."""
    path = Path(path)
    if not trajectories:
        raise ValueError("plot_trajectory_margins needs at least one trajectory (a dict label -> Trajectory)")
    norms = tuple(norms)
    fig, axes = plt.subplots(1, len(norms), figsize=(4.2 * len(norms), 3.6), squeeze=False)
    kind = "soft margin" if soft else "margin"
    xlabel = "time"
    for ax, nm in zip(axes[0], norms):
        drawn = 0
        for label, traj in trajectories.items():
            ys = _margin_series(traj, nm, soft)
            if ys is None:
                continue
            xs, xlabel = _time_axis(traj)
            x, y = _finite_positive(xs, ys, True, True)
            if x.size == 0:
                continue
            tag = "" if traj.t0_index is not None else " (not separated)"
            ax.plot(x, y, label=f"{label}{tag}", lw=1.4)
            drawn += 1
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{kind}, {nm} norm")
        ax.set_xlabel(xlabel)
        _grid_and_legend(ax, drawn, "no positive data")
    axes[0][0].set_ylabel(f"normalized {kind}")
    return _save(fig, path)


def plot_curves(curves: dict, path, xlabel: str = "x", ylabel: str = "y", logx: bool = False,
                logy: bool = False, title: str = "", markers: bool = False) -> Path:
    """One line per label -> (x, y). Non-finite points (and non-positive ones on a log axis) are dropped.
    Returns the PNG path."""
    path = Path(path)
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    drawn = 0
    for label, (x, y) in curves.items():
        x, y = _finite_positive(x, y, logx, logy)
        if x.size == 0:
            continue
        ax.plot(x, y, marker="o" if markers or x.size < 12 else None, ms=3, lw=1.4, label=str(label))
        drawn += 1
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    _grid_and_legend(ax, drawn, "no data to draw")
    return _save(fig, path)


def _grid_and_legend(ax, drawn: int, empty_text: str) -> None:
    """Grid on both tick levels; a legend when any line was drawn, else ``empty_text`` in the middle."""
    ax.grid(True, which="both", alpha=0.3)
    if drawn:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, empty_text, ha="center", va="center", transform=ax.transAxes)


def _save(fig, path: Path) -> Path:
    """Write the figure to a temporary name beside ``path`` and rename (no half-written PNGs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        fig.tight_layout()
        fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    tmp.replace(path)
    return path


__all__ = ["plot_trajectory_margins", "plot_curves"]
