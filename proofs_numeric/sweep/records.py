"""One record per finished task, written atomically; resume; the merged, pandas-readable tables.

Format: JSON lines. Each task writes ``DIR/records/<task_id>.jsonl`` (one line, one JSON object) to a
temporary name, fsyncs it and renames it into place (``os.replace``), so a killed worker, driver or node
never leaves half a record: a record file either exists complete or not at all. We chose JSON lines over
Parquet because the records are ragged and nested (curves of different lengths, per-run lists of claims),
need no extra dependency (pyarrow is ~40 MB), stay readable with ``head``, and pandas reads them directly:
``pandas.read_json("DIR/results.jsonl", lines=True)`` and ``pandas.read_json("DIR/finals.jsonl", lines=True)``.

A record holds the task's identity (experiment, quick, configuration, seeds), the code version, the device
the task trained on ("cpu" or "cuda:N", resolved in the worker), the status
("ok" or "error" with the exception), the outcome (claims, finals, series; ``adapters``), and the timing
fields wall time, host, finish time and traceback. ``merge`` writes, sorted by task id:
* ``results.jsonl``: every record without the timing fields, so an interrupted and resumed sweep gives a
  byte-identical file to an uninterrupted one;
* ``timing.jsonl``: task id, status and the timing fields;
* ``finals.jsonl``: the long table, one row per (task, final figure, index) with the configuration fields
  as columns (``config.<field>``), for ``groupby``.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import traceback
import uuid
from pathlib import Path

TIMING_KEYS = ("wall_time_s", "host", "finished_at", "traceback")


def code_version() -> str:
    """``git describe --always --dirty`` of the source tree when it is a git checkout, else the package
    version ("kktcheck <version>")."""
    from ..experiments.cache import package_version
    src = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=src, capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return f"git {out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return f"kktcheck {package_version()}"


def records_dir(out) -> Path:
    return Path(out) / "records"


def record_path(out, task_id: str) -> Path:
    return records_dir(out) / f"{task_id}.jsonl"


def write_json_atomic(path: Path, lines: list) -> Path:
    """Write the JSON objects ``lines`` one per line to ``path`` atomically (temporary name, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for obj in lines:
                fh.write(json.dumps(obj, sort_keys=True, allow_nan=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_record(path: Path):
    """The record in ``path``, or None when it is missing or unreadable (then the task runs again)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8").splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def finished(out, task) -> bool:
    """True when the task has a complete record with status "ok" (failed tasks are retried on a rerun)."""
    rec = read_record(record_path(out, task.task_id))
    return rec is not None and rec.get("status") == "ok" and rec.get("task_id") == task.task_id


def execute_task(task, work_root: str, version: str, device: str | None = None) -> dict:
    """Run one task (in whichever process or Ray worker calls this) and return its record. An exception in
    the experiment becomes a record with status "error"; it never propagates."""
    from ..device import device_name
    from .adapters import adapter_for, outcome
    t0 = time.perf_counter()
    rec = dict(task.identity, task_id=task.task_id, code_version=version, device=device or "cpu")
    try:
        rec["device"] = device_name(device)          # resolved here, in the worker that runs the task
        work = Path(work_root) / task.task_id
        work.mkdir(parents=True, exist_ok=True)
        rec.update(outcome(adapter_for(task.experiment), work, task.config, task.seeds, task.quick, device),
                   status="ok", error=None, traceback=None)
    except Exception as exc:  # noqa: BLE001 - failure isolation: the sweep goes on, the summary lists it
        rec.update(claims=[], finals={}, series=[], status="error", error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc())
    rec.update(wall_time_s=round(time.perf_counter() - t0, 3), host=socket.gethostname(),
               finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return rec


def save_record(out, rec: dict) -> Path:
    return write_json_atomic(record_path(out, rec["task_id"]), [rec])


def load_records(out, tasks) -> list:
    """The records of ``tasks`` present in ``out`` (any status), in task-id order."""
    recs = [read_record(record_path(out, t.task_id)) for t in tasks]
    return sorted((r for r in recs if r is not None), key=lambda r: r["task_id"])


def finals_rows(rec: dict) -> list:
    """Long rows of one record: task id, seeds, config.<field> columns, figure name, index, value."""
    cfg = {f"config.{k}": (v if isinstance(v, (int, float, str, bool)) else json.dumps(v))
           for k, v in rec["config"].items()}
    return [dict(cfg, task_id=rec["task_id"], seeds=rec["seeds"], figure=name, index=i, value=v)
            for name, vals in sorted(rec.get("finals", {}).items()) for i, v in enumerate(vals)]


def merge(out, tasks) -> dict:
    """Write results.jsonl, timing.jsonl and finals.jsonl (see the module docstring); return their paths."""
    recs = load_records(out, tasks)
    out = Path(out)
    results = [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in recs]
    timing = [{"task_id": r["task_id"], "status": r["status"], **{k: r.get(k) for k in TIMING_KEYS}} for r in recs]
    finals = [row for r in recs if r["status"] == "ok" for row in finals_rows(r)]
    return {name: write_json_atomic(out / f"{name}.jsonl", rows)
            for name, rows in (("results", results), ("timing", timing), ("finals", finals))}


__all__ = ["TIMING_KEYS", "code_version", "record_path", "records_dir", "write_json_atomic", "read_record",
           "finished", "execute_task", "save_record", "load_records", "finals_rows", "merge"]
