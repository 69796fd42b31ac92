"""The ``proofs-numeric sweep`` and ``proofs-numeric sweep-report`` subcommands (registered by ``cli.py``).

Exit codes: 0 every task finished (sweep) / every theorem check and control as expected (sweep-report);
1 some task failed / some check not as expected; 2 bad usage (bad spec, unknown experiment or field, empty
grid, unwritable output directory, Ray missing or unreachable, CUDA asked for but absent); 130 Ctrl-C.
"""
from __future__ import annotations

import sys
from pathlib import Path

COMMANDS = ("sweep", "sweep-report")


def add_parsers(sub) -> None:
    s = sub.add_parser("sweep", help="run a grid of an experiment's configurations x seeds (resumable)",
                       description="Expand SPEC.toml into tasks (configuration point x seed group), run the "
                                   "unfinished ones in-process, in a process pool or on Ray, write one record per "
                                   "task into DIR/records and merge them into DIR/results.jsonl (docs/sweeps.md). "
                                   "Rerunning the same command skips finished tasks.")
    s.add_argument("spec", metavar="SPEC.toml", help="the sweep description (see sweeps/*.toml)")
    s.add_argument("--out", default=None, metavar="DIR", help="output directory (default: ./sweep-<spec name>)")
    s.add_argument("--executor", default="local", choices=("local", "process", "ray"),
                   help="local: in this process (default); process: a local process pool; ray: Ray")
    s.add_argument("--address", default=None, metavar="ADDR",
                   help="Ray address: 'auto' (the cluster of this node), HOST:PORT or ray://HOST:PORT; "
                        "default: start a local Ray instance")
    s.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes for --executor process, CPUs of a new local Ray instance (default: all cores)")
    s.add_argument("--device", default=None, metavar="cpu|cuda|cuda:N",
                   help="where the experiments train, in float64 (default: the spec's [sweep] device, else cpu); "
                        "cuda needs a CUDA build of torch and a GPU (docs/sweeps.md, 'GPU runs')")
    s.add_argument("--report", action="store_true", help="write the sweep report at the end (sweep-report DIR)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    r = sub.add_parser("sweep-report", help="report of a sweep's records (Markdown, HTML, JSON)",
                       description="Aggregate the records in DIR: per configuration the claims with the fraction "
                                   "of seeds in which they hold, the final figures, and a plot of one figure "
                                   "against a swept field; writes DIR/sweep_report.md/.html/.json.")
    r.add_argument("dir", metavar="DIR", help="the sweep's output directory")
    r.add_argument("--figure", default=None, metavar="NAME",
                   help="final figure to plot, e.g. SD:own_margin or claim:ownership:linf:SD (default: the spec's)")
    r.add_argument("--x", default=None, metavar="FIELD", help="swept field on the x axis (default: the spec's)")


def _err(msg) -> int:
    print(f"proofs-numeric: error: {msg}", file=sys.stderr)
    return 2


def cmd_sweep(a, argv) -> int:
    from ..device import resolve_device
    from .runner import run_sweep
    out = a.out or f"sweep-{Path(a.spec).stem}"
    try:
        resolve_device(a.device, argument="--device")
        summary = run_sweep(a.spec, out, executor=a.executor, address=a.address, workers=a.workers,
                            device=a.device, progress=not a.no_progress)
    except ValueError as exc:
        return _err(exc)
    print("\n".join(summary.lines()))
    code = 0 if summary.ok else 1
    if a.report:
        rc = cmd_report(out, None, None, argv)
        code = max(code, rc)
    return code


def cmd_report(directory, figure, x, argv) -> int:
    from .report import sweep_report
    try:
        report, paths = sweep_report(directory, figure=figure, x=x, argv=argv)
    except ValueError as exc:
        return _err(exc)
    for line in report.summary_lines():
        print(line)
    for p in paths:
        print(f"wrote {p}")
    return 0 if report.ok else 1


def run_command(a, argv) -> int:
    """Dispatch ``sweep`` / ``sweep-report`` (``a``: the parsed arguments; ``argv``: the command line)."""
    try:
        if a.command == "sweep":
            return cmd_sweep(a, argv)
        return cmd_report(a.dir, a.figure, a.x, argv)
    except KeyboardInterrupt:
        print("proofs-numeric: interrupted (Ctrl-C). Every task that finished has its record in DIR/records; "
              "rerun the same command to run only the unfinished tasks.", file=sys.stderr)
        return 130


__all__ = ["COMMANDS", "add_parsers", "run_command"]
