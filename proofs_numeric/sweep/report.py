"""``sweep-report DIR``: the merged records as a report in the style of ``verify`` (Markdown, HTML, JSON).

One section per configuration point (the swept fields in its title). Each claim row aggregates the task
rows of that claim over the configuration's tasks with ``experiments._seeds.aggregate``: the measured value
is the fraction k/n of tasks (of seeds, with one seed per task) in which the claim holds, compared with 0.8,
with the per-task statistic as mean +- SE and the 95% Wilson interval of k/n in the claim text. A table gives
every final figure as mean +- SE over its values (SE = sample sd / sqrt(n)). Failed tasks make the section
"error" with the error messages. A last section plots a chosen final figure (mean over its values per
configuration) against a swept field, one line per combination of the other swept fields.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ..experiments._seeds import aggregate, fmt_mean_se, mean_se
from ..report.model import Report, Section, run_metadata
from ..report.write import write_report
from ..results import CheckResult, Figure, Table
from .records import load_records
from .runner import load_sweep


def row_result(row: dict) -> CheckResult:
    """A claim row of a record back as a CheckResult (no evidence stays no evidence)."""
    m = row["measured"]
    return CheckResult(row["id"], row["claim"], math.nan if m is None else m, row["tolerance"], row["passed"],
                       row["comparison"], negative_control=row["negative_control"],
                       informational=row["informational"], definition=row["definition"], changed=row["changed"],
                       evidence=row["evidence"])


def config_label(cfg: dict, swept: list) -> str:
    return ", ".join(f"{k}={json.dumps(cfg[k])}" for k in swept if k in cfg) or "single configuration"


def config_section(spec, cfg: dict, recs: list) -> Section:
    """The aggregated claims, the finals table and the failures of one configuration point."""
    ok = [r for r in recs if r["status"] == "ok"]
    bad = [r for r in recs if r["status"] != "ok"]
    seeds = [s for r in ok for s in r["seeds"]]
    names = list(dict.fromkeys(c["id"] for r in ok for c in r["claims"]))
    results = []
    for nm in names:
        rows = [row_result(c) for r in ok for c in r["claims"] if c["id"] == nm]
        results.append(aggregate(rows, seeds))
    finals = sorted({k for r in ok for k in r["finals"]})
    table = Table("final figures: mean +- SE over the runs of this configuration (n values)",
                  ["figure", "mean +- SE", "n"],
                  [[k, fmt_mean_se(_values(ok, k)), len(_values(ok, k))] for k in finals])
    fixed = {k: v for k, v in cfg.items() if k not in spec.swept_fields()}
    text = (f"{len(ok)} of {len(recs)} recorded tasks finished (seeds {seeds}); fixed fields "
            f"{json.dumps(fixed, sort_keys=True)}; quick={spec.quick}. Claim rows: fraction of tasks "
            f"({spec.seeds_per_task} seed(s) per task) in which the claim holds.")
    message = "; ".join(f"task {r['task_id']} seeds {r['seeds']}: {r['error']}" for r in bad)
    return Section(f"{spec.experiment}: {config_label(cfg, spec.swept_fields())}", kind="experiment",
                   status="error" if bad else "ok", message=message, results=results, tables=[table] if ok else [],
                   text=text, name=spec.experiment, seconds=sum(r.get("wall_time_s") or 0 for r in recs))


def _values(recs: list, figure: str) -> list:
    return [v for r in recs for v in r["finals"].get(figure, []) if v is not None and math.isfinite(v)]


def _x_number(v, field: str) -> float:
    """A swept value as a number (a one-element list counts as its element)."""
    v = v[0] if isinstance(v, list) and len(v) == 1 else v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"cannot plot against {field!r}: its values must be numbers, got {v!r}")
    return float(v)


def figure_section(spec, by_cfg: list, figure: str, x: str, out: Path) -> Section:
    """mean of ``figure`` per configuration against the swept field ``x``; one curve per combination of
    the other swept fields; a table of the points (mean +- SE, n)."""
    from ..plotting import plot_panels
    known = sorted({k for _, recs in by_cfg for r in recs for k in r.get("finals", {})})
    if figure not in known:
        raise ValueError(f"figure {figure!r} is not in the records; available: {', '.join(known[:40])}")
    others = [k for k in spec.swept_fields() if k != x]
    curves, rows = {}, []
    for cfg, recs in by_cfg:
        vals = _values([r for r in recs if r["status"] == "ok"], figure)
        m, se = mean_se(vals)
        lab = config_label(cfg, others) if others else figure
        xs, ys = curves.setdefault(lab, ([], []))
        xs.append(_x_number(cfg[x], x))
        ys.append(m)
        rows.append([lab, cfg[x], fmt_mean_se(vals), len(vals)])
    curves = {k: tuple(zip(*sorted(zip(*v)))) for k, v in curves.items()}
    path = plot_panels([dict(title=f"{figure} (mean over runs) vs {x}", curves=curves, xlabel=x, ylabel=figure,
                             logx="auto")], out / f"sweep_{_slug(figure)}_vs_{_slug(x)}.png", markers=True)
    cap = f"{figure}: mean over the runs of each configuration against {x} ({spec.experiment}, seeds {spec.seeds})"
    return Section(f"{figure} against {x}", kind="experiment", figures=[Figure(str(path), cap)],
                   tables=[Table(f"{figure} per configuration", ["curve", x, "mean +- SE", "n"], rows)],
                   text="Each point: the mean of the figure's values over the runs of one configuration.")


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s)


def sweep_report(out, *, figure: str | None = None, x: str | None = None, argv=None) -> tuple:
    """Build and write ``sweep_report.md/.html/.json`` into ``out``; returns (Report, paths)."""
    out = Path(out)
    spec = load_sweep(out)
    tasks = spec.tasks()
    recs = load_records(out, tasks)
    if not recs:
        raise ValueError(f"{out} holds no task records yet: run the sweep first")
    by_id = {r["task_id"]: r for r in recs}
    by_cfg = [(cfg, [by_id[t.task_id] for t in tasks if t.config == cfg and t.task_id in by_id])
              for cfg in spec.configurations()]
    sections = [config_section(spec, cfg, rs) for cfg, rs in by_cfg if rs]
    figure = figure or spec.report.get("figure")
    x = x or spec.report.get("x") or spec.swept_fields()[0]
    if figure:
        sections.append(figure_section(spec, by_cfg, figure, x, out))
    meta = run_metadata(experiment=spec.experiment, sweep=spec.name or "-", tasks=f"{len(recs)} of {len(tasks)} "
                        "recorded", code_versions=", ".join(sorted({r["code_version"] for r in recs})),
                        hosts=", ".join(sorted({str(r.get("host")) for r in recs})),
                        task_wall_time_s=round(sum(r.get("wall_time_s") or 0 for r in recs), 1),
                        written=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                        command=" ".join(argv) if argv else "sweep_report()")
    report = Report(f"proofs-numeric sweep report: {spec.name or spec.experiment}", sections, meta)
    return report, write_report(report, out, stem="sweep_report")


__all__ = ["sweep_report", "config_section", "figure_section", "row_result"]
