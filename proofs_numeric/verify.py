"""The main job: run every registered theorem-check suite and the paper's experiments, write the report.

``verify(out, quick=...)`` checks the output directory first (a file or an unwritable path fails before any
computation), imports ``proofs_numeric.checks.suites`` (which registers the default-case suites; a missing
teammate module shows up as a "not available" section), runs the suites, then every experiment in
``proofs_numeric.experiments.EXPERIMENTS``, and writes report.md, report.html and report.json atomically
into ``out`` with the PNGs beside them. ``suites=[...]`` selects theorem suites and experiments by name.
``max_seconds`` bounds the whole job's wall time (``proofs_numeric.budget``): checked before each suite and
experiment and, inside the experiments, at every training step; what it did not let run is reported with status
"stopped (time budget)" and a "no evidence" row, so the report is not all as expected (exit code 1).
``Report.ok`` is False if any theorem check or negative control is not as expected,
any section raised, or any section is not available; the CLI turns that into exit code 1.
"""
from __future__ import annotations

import datetime as _dt
import importlib
import sys
import time
from pathlib import Path

from . import budget
from .checks.registry import STOPPED, SUITES, run_suites
from .report.model import Report, Section, Table, run_metadata
from .results import Figure, figure_caption
from .report.write import check_out_dir, write_report

DEFAULT_SEED = 0


def load_suites() -> dict:
    """Import the module registering the built-in suites and return the registry."""
    importlib.import_module("proofs_numeric.checks.suites")
    return SUITES


def load_experiments():
    """(EXPERIMENTS registry, run_experiment) or (None, reason) when the experiments package is missing."""
    try:
        mod = importlib.import_module("proofs_numeric.experiments")
        return mod.EXPERIMENTS, mod.run_experiment
    except Exception as exc:  # noqa: BLE001 - shown in the report as "not available"
        return None, f"{type(exc).__name__}: {exc}"


def _tables(tables) -> list:
    """Normalize an experiment's tables (Table, dict name -> rows, list of dict rows, (header, rows)) to Table."""
    out = []
    items = tables.items() if isinstance(tables, dict) else enumerate(tables or [])
    for key, t in items:
        cap = str(key) if not isinstance(key, int) else f"table {key + 1}"
        if isinstance(t, Table):
            out.append(t)
        elif hasattr(t, "header") and hasattr(t, "rows"):
            out.append(Table(getattr(t, "caption", cap) or cap, list(t.header), [list(r) for r in t.rows]))
        elif isinstance(t, dict) and "rows" in t:
            out.append(Table(t.get("caption", cap), list(t.get("header", [])), [list(r) for r in t["rows"]]))
        elif isinstance(t, (list, tuple)) and t and all(isinstance(r, dict) for r in t):
            header = list(dict.fromkeys(k for r in t for k in r))
            out.append(Table(cap, header, [[r.get(h, "") for h in header] for r in t]))
        elif isinstance(t, tuple) and len(t) == 2:
            out.append(Table(cap, list(t[0]), [list(r) for r in t[1]]))
        elif isinstance(t, str):
            out.append(Table(cap, ["text"], [[line] for line in t.splitlines()]))
    return out


def experiment_section(name, result, seconds=0.0) -> Section:
    title = getattr(result, "title", None) or f"Experiment: {name}"
    claims = list(getattr(result, "claims", []) or [])
    case = getattr(result, "case", None)
    for r in claims:
        r.suite = getattr(r, "suite", "") or name
        r.case = getattr(r, "case", None) or case
    where = f" ({case.text()})" if case is not None else ""
    figures = [f if figure_caption(f) else Figure(str(f), f"experiment {name}: the runs of this section{where}")
               for f in (getattr(result, "figures", []) or [])]
    stop = getattr(result, "budget_stop", "")
    return Section(title, kind="experiment", results=claims, name=name, figures=figures,
                   tables=_tables(getattr(result, "tables", None)), text=str(getattr(result, "summary", "") or ""),
                   seconds=seconds, status=STOPPED if stop else "ok", message=f"stopped at {stop}" if stop else "")


def run_experiments(out: Path, quick: bool, progress: bool, names=None, seeds=None) -> list:
    registry, run = load_experiments()
    if registry is None:
        return [Section("Experiments", kind="experiment", status="not available", message=run)]
    sections = []
    for name in (list(registry) if names is None else [n for n in names if n in registry]):
        t0 = time.perf_counter()
        try:
            res = run(name, out / f"exp_{name}", seeds=seeds, quick=quick, progress=progress)
            sections.append(experiment_section(name, res, time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001 - recorded as an error section
            sections.append(Section(f"Experiment: {name}", kind="experiment", status="error",
                                    message=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - t0))
    return sections


def verify(out, *, quick: bool = False, progress: bool = True, suites=None, experiments=None,
           with_experiments: bool = True, registry: dict | None = None, argv=None, max_seconds=None) -> tuple:
    """Run the main job and write the report; returns (Report, (md_path, html_path, json_path)).
    ``suites``: names of theorem suites and/or experiments to run (None: all); ``max_seconds``: wall-time budget
    of the whole job (None: unlimited)."""
    max_seconds = budget.check_max_seconds(max_seconds)
    out = check_out_dir(out)
    t0 = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    table = load_suites() if registry is None else registry
    if suites is not None:
        valid = list(table) + (list(load_experiments()[0] or []) if with_experiments else [])
        unknown = [n for n in suites if n not in valid]
        if unknown:
            raise ValueError(f"unknown suite(s) {unknown}; valid names: {', '.join(valid)}")
        experiments = [n for n in suites if n not in table] if experiments is None else experiments
    names = None if suites is None else [n for n in suites if n in table]
    with budget.limit(max_seconds):
        outcomes = run_suites(quick, out, progress=progress, names=names, suites=table)
        sections = [Section(f"{o.section} [{o.name}]", status=o.status, message=o.message, results=o.results,
                            seconds=o.seconds, name=o.name) for o in outcomes]
        if with_experiments and (suites is None or experiments):
            sections += run_experiments(out, quick, progress, experiments)
    meta = run_metadata(mode="quick" if quick else "full", seed=f"fixed per case (default {DEFAULT_SEED})",
                        **({"max_seconds": max_seconds} if max_seconds else {}),
                        started=started, wall_time_s=round(time.perf_counter() - t0, 1),
                        command=" ".join(argv if argv is not None else sys.argv))
    report = Report("proofs-numeric verification report", sections, meta)
    return report, write_report(report, out)


def experiment_report(name, out, *, seeds=None, quick=False, progress=True, argv=None, max_seconds=None,
                      options=None) -> tuple:
    """Run one experiment and write its report (report.md/html in ``out``); ``max_seconds``: wall-time budget;
    ``options``: extra keyword arguments of that experiment (e.g. dataset, data_path), refused by
    run_experiment when it has none such."""
    max_seconds = budget.check_max_seconds(max_seconds)
    registry, run = load_experiments()
    if registry is None:
        raise RuntimeError(f"the experiments package is not available: {run}")
    if name not in registry:
        raise KeyError(name)
    out = check_out_dir(out)
    t0 = time.perf_counter()
    with budget.limit(max_seconds):
        res = run(name, out, seeds=seeds, quick=quick, progress=progress, **(options or {}))
    sec = experiment_section(name, res, time.perf_counter() - t0)
    meta = run_metadata(mode="quick" if quick else "full", seeds=str(getattr(res, "seeds", None) or (seeds if seeds is not None else "default")),
                        wall_time_s=round(time.perf_counter() - t0, 1),
                        **({"max_seconds": max_seconds} if max_seconds else {}),
                        command=" ".join(argv if argv is not None else sys.argv))
    report = Report(f"proofs-numeric experiment: {name}", [sec], meta)
    return report, write_report(report, out)


__all__ = ["verify", "experiment_report", "run_experiments", "load_suites", "load_experiments"]
