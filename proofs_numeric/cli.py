"""Command line: ``proofs-numeric verify`` (the main job), ``proofs-numeric experiment NAME`` and the sweeps
``proofs-numeric sweep SPEC.toml`` / ``sweep-report DIR`` (``proofs_numeric.sweep.commands``).

Exit codes: 0 every theorem check and negative control as expected; 1 some check or control not as expected
(or a section raised / is not available, or --max-seconds ended the run before everything was evaluated: those
rows have verdict "no evidence"); informational paper claims never change it; 2 bad usage (unknown suite or
experiment name, output path that is a file or unwritable, a --seeds or --max-seconds that is not a positive
number, a --device that is not cpu/cuda/cuda:N or CUDA asked for where torch has none); 130 interrupted by
Ctrl-C (finished experiment runs stay in the run cache).
"""
from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="proofs-numeric",
                                description="Numerical checks of the implicit bias of steepest descent in "
                                            "homogeneous networks: theorem checks, experiments, reports.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    v = sub.add_parser("verify", help="run all theorem checks on built-in cases and the experiments; write a report",
                       description="Run every registered theorem-check suite and every experiment, then write "
                                   "report.md, report.html and report.json (with PNGs) into --out. Exit code 1 if "
                                   "a theorem check or negative control is not as expected (paper claims, which "
                                   "are informational, do not change it).")
    v.add_argument("--quick", action="store_true", help="smaller runs (the main job stays under ~3 minutes)")
    v.add_argument("--out", default="report", metavar="DIR", help="output directory (default: ./report)")
    v.add_argument("--no-experiments", action="store_true", help="only the theorem-check suites")
    v.add_argument("--suite", action="append", default=None, metavar="NAME",
                   help="run only this suite or experiment (repeatable; see --list)")
    v.add_argument("--list", action="store_true", help="list the suite and experiment names and exit")
    v.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_max_seconds(v)
    e = sub.add_parser("experiment", help="run one experiment and write its report",
                       description="Run one of the paper's experiments with its plots; report.md/report.html in --out.")
    e.add_argument("name", metavar="NAME", help="experiment name (see `proofs-numeric list`)")
    e.add_argument("--out", default=None, metavar="DIR", help="output directory (default: ./experiment-NAME)")
    e.add_argument("--seeds", type=_positive_int, default=None, metavar="N", help="number of seeds (0..N-1)")
    e.add_argument("--quick", action="store_true", help="small version of the experiment")
    e.add_argument("--dataset", default=None, metavar="NAME",
                   help="data set of an experiment that offers a choice (momentum_margins: digits or mnist)")
    e.add_argument("--data-path", default=None, metavar="PATH",
                   help="the user's data files for --dataset mnist (IDX training files or an .npz; no download)")
    e.add_argument("--device", default=None, metavar="cpu|cuda|cuda:N",
                   help="where the experiment trains, in float64 (default: cpu); cuda is offered by teacher_student "
                        "and needs a CUDA build of torch and a GPU (docs/sweeps.md, 'GPU runs')")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_max_seconds(e)
    e.add_argument("--json", action="store_true",
                   help="print the machine-readable report (report.json) on stdout; the summary goes to stderr")
    sub.add_parser("list", help="list the check suites and experiments",
                   description="List the registered theorem-check suites and the experiment names.")
    from .sweep.commands import add_parsers as add_sweep_parsers
    add_sweep_parsers(sub)
    return p


def _add_max_seconds(p) -> None:
    p.add_argument("--max-seconds", type=_positive_seconds, default=None, metavar="S",
                   help="wall-time budget in seconds: the run stops at the next training step, solve, suite or "
                        "experiment after it; what was not evaluated is reported as 'no evidence' (exit 1) and "
                        "finished experiment runs stay cached (default: no limit)")


def _positive_seconds(s):
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--max-seconds expects a number of seconds > 0, got {s!r}") from None
    if not (v > 0 and v != float("inf")):
        raise argparse.ArgumentTypeError(f"--max-seconds expects a finite number of seconds > 0, got {s!r}")
    return v


def _positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds expects a positive integer, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"--seeds expects a positive integer, got {v}")
    return v


def _err(msg) -> int:
    print(f"proofs-numeric: error: {msg}", file=sys.stderr)
    return 2


def _finish(report, paths, as_json: bool = False) -> int:
    stream = sys.stderr if as_json else sys.stdout
    for line in report.summary_lines():
        print(line, file=stream)
    for p in paths:
        print(f"wrote {p}", file=stream)
    if as_json:
        json_path = [p for p in paths if str(p).endswith(".json")][0]
        sys.stdout.write(open(json_path, encoding="utf-8").read())
    return 0 if report.ok else 1


def _cmd_verify(a, argv) -> int:
    from .report.write import check_out_dir
    from .verify import load_suites, verify
    if a.list:
        return _cmd_list()
    if a.suite:
        names, _ = _experiment_names()
        valid = list(load_suites()) + ([] if a.no_experiments else names)
        unknown = [n for n in a.suite if n not in valid]
        if unknown:
            return _err(f"unknown suite {unknown[0]!r}; valid names: {', '.join(valid)}")
    try:
        check_out_dir(a.out)
    except ValueError as exc:
        return _err(exc)
    report, paths = verify(a.out, quick=a.quick, progress=not a.no_progress, suites=a.suite,
                           with_experiments=not a.no_experiments, argv=argv, max_seconds=a.max_seconds)
    return _finish(report, paths)


def _experiment_names():
    from .verify import load_experiments
    reg, why = load_experiments()
    return (list(reg), None) if reg is not None else ([], why)


def _cmd_experiment(a, argv) -> int:
    names, why = _experiment_names()
    if why is not None:
        return _err(f"the experiments package is not available ({why})")
    if a.name not in names:
        return _err(f"unknown experiment {a.name!r}; valid names: {', '.join(names)}")
    from .device import resolve_device
    from .report.write import check_out_dir
    from .verify import experiment_report
    out = a.out if a.out is not None else f"experiment-{a.name}"   # --out "" is refused, not the default
    try:
        device = resolve_device(a.device, argument="--device")   # CUDA asked for but absent: exit 2 before any work
        check_out_dir(out)
    except ValueError as exc:
        return _err(exc)
    seeds = None if a.seeds is None else list(range(a.seeds))
    gpu = str(device) if device.type != "cpu" else None          # --device cpu suits every experiment
    options = {k: v for k, v in (("dataset", a.dataset), ("data_path", a.data_path), ("device", gpu)) if v is not None}
    try:
        report, paths = experiment_report(a.name, out, seeds=seeds, quick=a.quick, progress=not a.no_progress,
                                          argv=argv, max_seconds=a.max_seconds, options=options)
    except (ValueError, FileNotFoundError) as exc:
        return _err(exc)
    return _finish(report, paths, as_json=a.json)


def _cmd_list() -> int:
    from .verify import load_suites
    print("theorem-check suites:")
    for s in load_suites().values():
        print(f"  {s.name:18s} {s.section}" + ("" if s.available else f"  [not available: {s.reason}]"))
    names, why = _experiment_names()
    print("experiments:" + (f" not available ({why})" if why else ""))
    for n in names:
        print(f"  {n}")
    return 0


def main(argv=None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    p = _parser()
    a = p.parse_args(args_list)
    cmd_line = ["proofs-numeric", *args_list]
    try:
        if a.command == "verify":
            return _cmd_verify(a, cmd_line)
        if a.command == "experiment":
            return _cmd_experiment(a, cmd_line)
        if a.command == "list":
            return _cmd_list()
        if a.command in ("sweep", "sweep-report"):
            from .sweep.commands import run_command
            return run_command(a, cmd_line)
    except KeyboardInterrupt:
        return _interrupted(a.command, getattr(a, "name", None))
    p.print_help(sys.stderr)
    return _err("no command given: choose one of verify, experiment, list (see the help above)")


def _interrupted(command, name) -> int:
    """Ctrl-C: say where the run stopped and what survives (exit code 130, the shell's SIGINT convention)."""
    what = f"experiment {name!r}" if command == "experiment" and name else f"'{command}'"
    print(f"proofs-numeric: interrupted (Ctrl-C) during {what}. No report was written: reports are written "
          "atomically once everything has run. Experiment runs that finished before the interruption are kept "
          "in the run cache and are reused by the next invocation.", file=sys.stderr)
    return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
