"""Sweep benchmark: the teacher-student quick sweep (2 widths x 2 seeds = 4 tasks) end to end, per executor.

Each run is the command a user types (``proofs-numeric sweep SPEC --out DIR --executor E``) in a fresh
process, timed from launch to exit, so the times include Python start, imports, and for Ray starting and
stopping the local Ray instance. Then the kill test: a Ray sweep is interrupted (SIGINT, as Ctrl-C) as soon as
its first record is on disk, rerun, and the merged results.jsonl is compared byte for byte with the
uninterrupted in-process run. Throughput per core = tasks / (wall time x cores used).

Run by hand:  python benchmarks/sweep.py [--spec sweeps/teacher_student_quick.toml] [--out docs/benchmarks.md]
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from _docs import replace_section  # benchmarks/_docs.py (scripts run from benchmarks/)

ROOT = Path(__file__).resolve().parents[1]


def sweep_cmd(spec, out, executor) -> list:
    cmd = ["proofs-numeric", "sweep", str(spec), "--out", str(out), "--executor", executor, "--no-progress"]
    return cmd + (["--workers", "2"] if executor != "local" else [])


def timed_sweep(spec, out, executor) -> tuple:
    """(wall seconds, the command's summary line) of one sweep run to completion."""
    t0 = time.perf_counter()
    done = subprocess.run(sweep_cmd(spec, out, executor), capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, done.stdout.splitlines()[0]


def killed_then_resumed(spec, out) -> dict:
    """Start a Ray sweep, SIGINT it once the first record exists, rerun it; what ran each time."""
    proc = subprocess.Popen(sweep_cmd(spec, out, "ray"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    records = Path(out) / "records"
    while proc.poll() is None and not (records.is_dir() and any(records.glob("*.jsonl"))):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    kept = len(list(records.glob("*.jsonl")))
    t, line = timed_sweep(spec, out, "ray")
    return {"exit": proc.returncode, "kept": kept, "rerun_s": t, "rerun_line": line,
            "interrupt_msg": err.strip().splitlines()[-1] if err.strip() else ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "sweeps" / "teacher_student_quick.toml"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    load0 = os.getloadavg()
    times = {}
    for ex in ("local", "process", "ray"):
        times[ex] = timed_sweep(a.spec, tmp / ex, ex)
        print(ex, times[ex])
    kill = killed_then_resumed(a.spec, tmp / "killed")
    print(kill)
    same = (tmp / "killed" / "results.jsonl").read_bytes() == (tmp / "local" / "results.jsonl").read_bytes()
    same_ray = (tmp / "ray" / "results.jsonl").read_bytes() == (tmp / "local" / "results.jsonl").read_bytes()
    tasks = int(re.search(r"(\d+) tasks", times["local"][1]).group(1))
    load1 = os.getloadavg()
    rows = [f"| {ex} | {1 if ex == 'local' else 2} | {t:.1f} | {t / times['local'][0]:.2f} | "
            f"{tasks / (t * (1 if ex == 'local' else 2)) * 60:.2f} |" for ex, (t, _) in times.items()]
    lines = [f"`python benchmarks/sweep.py` on {platform.machine()}, {os.cpu_count()} cores, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average {load0[0]:.1f} before, "
             f"{load1[0]:.1f} after (the cores were shared with other jobs: upper bounds).",
             f"Spec `{Path(a.spec).relative_to(ROOT) if Path(a.spec).is_relative_to(ROOT) else a.spec}`: "
             f"{tasks} tasks. Wall time from launching `proofs-numeric sweep` to its exit (imports, Ray start "
             "and shutdown included).", "",
             "| executor | cores | wall (s) | / in-process | tasks per core-minute |", "|---|---|---|---|---|", *rows, "",
             f"Kill test (Ray): SIGINT after the first record; exit code {kill['exit']}, {kill['kept']} of "
             f"{tasks} records kept; the rerun took {kill['rerun_s']:.1f} s and printed `{kill['rerun_line']}`.",
             f"Merged results.jsonl byte-identical to the uninterrupted in-process run: interrupted+resumed "
             f"{'yes' if same else 'NO'}, uninterrupted Ray {'yes' if same_ray else 'NO'}."]
    replace_section(a.out, "sweeps (teacher-student quick sweep, executors)", lines)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
