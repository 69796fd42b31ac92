"""Reports of the verification run: Markdown, HTML and JSON renderings of ``CheckResult`` rows, atomic
writing (see docs/report.md for how to read a report). Figures are drawn by ``proofs_numeric.plotting``."""
from __future__ import annotations

from .model import Report, Section, Table, fmt_num, run_metadata
from .plots import plot_curves, plot_trajectory_margins
from .render import to_html, to_json, to_markdown
from .write import check_out_dir, write_report

__all__ = ["plot_curves", "plot_trajectory_margins", "Report", "Section", "Table", "fmt_num", "run_metadata",
           "to_markdown", "to_html", "to_json", "check_out_dir", "write_report"]
