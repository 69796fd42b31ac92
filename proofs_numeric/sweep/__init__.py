"""Sweeps: a grid over an experiment's configuration fields x seeds, run in-process, in a process pool or
on Ray, one atomic record per task, resumable, merged into pandas-readable JSON lines and reported in the
style of ``verify`` (docs/sweeps.md).

    summary = run_sweep("sweeps/teacher_student_quick.toml", "out", executor="process")
    report, paths = sweep_report("out", figure="SD:own_margin", x="width")
"""
from __future__ import annotations

from .executors import EXECUTORS, make_executor
from .records import code_version, merge
from .report import sweep_report
from .runner import SweepSummary, run_sweep
from .spec import SweepSpec, Task, load_spec, parse_spec

__all__ = ["EXECUTORS", "make_executor", "code_version", "merge", "sweep_report", "SweepSummary", "run_sweep",
           "SweepSpec", "Task", "load_spec", "parse_spec"]
