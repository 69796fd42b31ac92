"""Figures (matplotlib, Agg backend, PNG files), below ``checks``, ``experiments``, ``report`` and ``record``.

One style everywhere:
* every panel has a title; one quantity (one norm) per axis, several panels side by side;
* curves that may overlap get distinct line styles as well as colours (cycle of solid, dashed, dash-dot,
  dotted), so one curve never hides another completely;
* a run that stopped before the end of its plan (``stopped`` labels, or a trajectory whose status is not
  "success" / "max_steps") is drawn lighter and dashed with an "x" at its last point and "(stopped: why)"
  in the legend; it is never continued as a flat line;
* logarithmic axes where a quantity spans decades (time from separation on, residuals; margins when their
  values span more than a decade);
  non-finite values, and non-positive ones on a log axis, are dropped.

``plot_trajectory_margins`` draws the normalized margins gamma_k(t) = min_i q_i / ||theta||_k^L (or the soft
margins log(1/L) / ||theta||_k^L) of ``Trajectory`` values against the loss-normalized time s (ds = L dt; log t
when s is not positive), one panel per norm k, from the first record with L < 1 (``t0_index``).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402
import numpy as np  # noqa: E402

LINESTYLES = ("-", "--", "-.", ":")
FINISHED = ("success", "max_steps")


def finite_positive(x, y, logx, logy):
    """(x, y) as float64 of equal length without non-finite points (and non-positive ones on log axes)."""
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


def spans_decades(ys, decades: float = 1.0) -> bool:
    """True when the positive finite values of the arrays ``ys`` span more than ``decades`` powers of ten."""
    v = np.concatenate([np.asarray(y, dtype=np.float64).ravel() for y in ys] or [np.zeros(0)])
    v = v[np.isfinite(v) & (v > 0)]
    return bool(v.size and np.log10(v.max() / v.min()) > decades)


def draw(ax, x, y, label, i, stopped: str = "", markers: bool = False, color=None, scatter: bool = False,
         thin: bool = False) -> None:
    """Curve number ``i`` in the shared style; ``stopped``: why the run ended early (marked, lighter)."""
    ls = LINESTYLES[i % len(LINESTYLES)]
    color = color or f"C{i % 10}"
    mk = "o" if markers or scatter or x.size < 12 else None
    lab = None if thin else str(label)
    if scatter:
        ax.plot(x, y, ls="none", marker="o", ms=3.5, color=color, alpha=0.8, label=lab)
    elif stopped:
        ax.plot(x, y, ls="--", color=color, alpha=0.5, lw=1.2, marker=mk, ms=3,
                label=None if thin else f"{label} (stopped: {stopped})")
        ax.plot(x[-1:], y[-1:], "x", color=color, ms=8, mew=2)
    else:
        ax.plot(x, y, ls=ls, color=color, lw=0.7 if thin else 1.4, alpha=0.6 if thin else 1.0, marker=mk, ms=3,
                label=lab)


def plot_panels(panels: list, path, suptitle: str = "", stopped: dict | None = None, markers: bool = False,
                colors: dict | None = None, legend_groups: dict | None = None) -> Path:
    """One panel per dict(title=, curves={label: (x, y)}, xlabel=, ylabel=, logx=, logy=, scatter=) (``"auto"``
    for logx/logy: log when the values span more than a decade); ``stopped`` maps a label to the reason its run
    stopped early. The same label keeps its colour and style in every panel. ``colors`` (label -> colour) with ``legend_groups``
    (group name -> colour): many thin lines, one legend entry per group (e.g. one line per seed)."""
    stopped, colors = stopped or {}, colors or {}
    labels = list(dict.fromkeys(lab for p in panels for lab in p["curves"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.7), squeeze=False)
    for ax, p in zip(axes[0], panels):
        drawn = 0
        for key, i in (("logx", 0), ("logy", 1)):
            if p.get(key) == "auto":
                p = dict(p, **{key: spans_decades([c[i] for c in p["curves"].values()])})
        for lab, (x, y) in p["curves"].items():
            x, y = finite_positive(x, y, p.get("logx", False), p.get("logy", False))
            if x.size:
                draw(ax, x, y, lab, labels.index(lab), stopped.get(lab, ""), markers, colors.get(lab),
                     p.get("scatter", False), thin=legend_groups is not None)
                drawn += 1
        if legend_groups is not None and drawn:
            for g, c in legend_groups.items():
                ax.plot([], [], color=c, label=g)
            if any(lab in stopped for lab in p["curves"]):
                ax.plot([], [], ls="--", marker="x", color="grey", alpha=0.6, label="stopped / unfinished run")
        ax.set_xscale("log" if p.get("logx") else "linear")
        ax.set_yscale("log" if p.get("logy") else "linear")
        for axis, on, vals in ((ax.xaxis, p.get("logx"), [x for x, _ in p["curves"].values()]),
                               (ax.yaxis, p.get("logy"), [y for _, y in p["curves"].values()])):
            if on:
                _log_minor_labels(axis, spans_decades(vals))
        ax.set_title(p.get("title") or p.get("ylabel", ""), fontsize=10)
        ax.set_xlabel(p.get("xlabel", "x"))
        ax.set_ylabel(p.get("ylabel", "y"))
        grid_and_legend(ax, drawn, "no data to draw")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return save(fig, Path(path))


def _log_minor_labels(axis, long_range: bool) -> None:
    """Minor tick labels of a log axis: none over a decade or more (the decades are labelled), else only at
    2x and 5x powers of ten in plain numbers (the default labels collide on short ranges)."""
    if long_range:
        axis.set_minor_formatter(NullFormatter())
        return

    def fmt(v, _pos):
        mant = v / 10 ** np.floor(np.log10(v)) if v > 0 else 0
        return f"{v:g}" if np.isclose(mant, 2) or np.isclose(mant, 5) else ""
    axis.set_minor_formatter(FuncFormatter(fmt))


def plot_curves(curves: dict, path, xlabel: str = "x", ylabel: str = "y", logx: bool = False,
                logy: bool = False, title: str = "", markers: bool = False, stopped: dict | None = None) -> Path:
    """One panel, one line per label -> (x, y). Returns the PNG path."""
    return plot_panels([dict(title=title or ylabel, curves=curves, xlabel=xlabel, ylabel=ylabel, logx=logx,
                             logy=logy)], path, stopped=stopped, markers=markers)


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
    return np.asarray(arr, dtype=np.float64)[traj.t0_index or 0:]


def stop_reason(traj) -> str:
    """'' for a finished run, else its status (and '(never separated)' when L never fell below 1)."""
    why = "" if getattr(traj, "status", "success") in FINISHED else str(traj.status)
    if getattr(traj, "t0_index", 0) is None:
        why = (why + ", " if why else "") + "never separated"
    return why


def plot_trajectory_margins(trajectories: dict, path, norms=("l1", "l2", "linf"), soft: bool = False,
                            title: str = "") -> Path:
    """Margins (hard, or soft with ``soft=True``) vs time, log-log, one panel per norm; one line per
    trajectory (label -> Trajectory). Runs that stopped early or never separated are marked. Returns the path."""
    if not trajectories:
        raise ValueError("plot_trajectory_margins needs at least one trajectory (a dict label -> Trajectory)")
    kind = "soft margin" if soft else "margin"
    panels = []
    for nm in norms:
        curves, xlabel = {}, "time"
        for label, traj in trajectories.items():
            ys = _margin_series(traj, nm, soft)
            if ys is not None:
                xs, xlabel = _time_axis(traj)
                curves[label] = (xs, ys)
        panels.append(dict(title=f"{kind}, {nm} norm", curves=curves, xlabel=xlabel,
                           ylabel=f"normalized {kind} ({nm})", logx=True, logy="auto"))
    stopped = {lab: stop_reason(t) for lab, t in trajectories.items() if stop_reason(t)}
    return plot_panels(panels, path, suptitle=title, stopped=stopped)


def grid_and_legend(ax, drawn: int, empty_text: str) -> None:
    """Grid on both tick levels; a legend when any line was drawn, else ``empty_text`` in the middle."""
    ax.grid(True, which="both", alpha=0.3)
    if drawn:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, empty_text, ha="center", va="center", transform=ax.transAxes)


def save(fig, path: Path) -> Path:
    """Write the figure to a temporary name beside ``path`` and rename (no half-written PNGs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        fig.tight_layout()
        fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    tmp.replace(path)
    return path


__all__ = ["plot_panels", "plot_curves", "plot_trajectory_margins", "finite_positive", "draw", "stop_reason",
           "grid_and_legend", "save", "LINESTYLES"]
