"""Reports of the verification run: plots (PNG), Markdown and HTML renderings, atomic writing, and the
KKT section (see docs/report.md for how to read a report)."""
from __future__ import annotations

from .kkt import kkt_section
from .model import Report, Section, Table, fmt_num, run_metadata
from .plots import plot_curves, plot_trajectory_margins
from .render import to_html, to_markdown
from .write import check_out_dir, write_report

__all__ = ["plot_curves", "plot_trajectory_margins", "Report", "Section", "Table", "fmt_num", "run_metadata",
           "to_markdown", "to_html", "check_out_dir", "write_report", "kkt_section"]
