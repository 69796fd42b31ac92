"""Writing a report to disk: output-directory checks and atomic writes.

``check_out_dir`` is called before any computation: an output path that is a file, or a directory that
cannot be created or written, raises ``ValueError`` with what to do.
``write_report`` renders both files to hidden temporary names in the output directory and renames them
into place only when both renderings succeeded, so an interrupted or failing run never leaves a
half-written report.md / report.html / report.json (an older complete report stays untouched).
Figures outside the output directory are copied into ``DIR/figures`` so the report is self-contained.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from .model import Report
from .render import to_html, to_json, to_markdown


def check_out_dir(out) -> Path:
    """Create ``out`` if needed and verify it is a writable directory; return it (absolute)."""
    if out is None or str(out).strip() == "":
        raise ValueError("no output directory given: pass --out DIR")
    if "\x00" in str(out):
        raise ValueError(f"output directory {str(out)!r} contains a NUL byte: pass --out a valid path")
    out = Path(out).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise ValueError(f"output path {out} exists and is not a directory: pass --out a directory "
                         "(it is created if missing)")
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"cannot create output directory {out}: {parent} is a file")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create output directory {out}: {exc.strerror or exc}; "
                         "choose a writable location with --out") from None
    probe = out / f".write-test-{uuid.uuid4().hex}"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"output directory {out} is not writable ({exc.strerror or exc}); "
                         "choose a writable location with --out") from None
    return out


def _relativizer(out: Path):
    out = out.absolute()

    def rel(f) -> str:
        f = Path(f)
        f = f if f.is_absolute() else out / f
        try:
            return f.absolute().relative_to(out).as_posix()
        except ValueError:
            dest = out / "figures" / f.name
            dest.parent.mkdir(exist_ok=True)
            if f.exists() and f.absolute() != dest.absolute():
                shutil.copyfile(f, dest)
            return dest.relative_to(out).as_posix()

    return rel


def write_report(report: Report, out, stem: str = "report") -> tuple:
    """Write ``stem.md``, ``stem.html`` and ``stem.json`` into ``out`` atomically; returns their paths."""
    out = check_out_dir(out)
    rel = _relativizer(out)
    final = [out / f"{stem}.md", out / f"{stem}.html", out / f"{stem}.json"]
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmps = [out / f".{p.name}.tmp-{tag}" for p in final]
    try:
        text = [to_markdown(report, rel), to_html(report, rel),
                json.dumps(to_json(report, rel), indent=1, allow_nan=False) + "\n"]
        for tmp, t in zip(tmps, text):
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(t)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, dst in zip(tmps, final):
            os.replace(tmp, dst)
    finally:
        for tmp in tmps:
            if tmp.exists():
                tmp.unlink()
    return tuple(final)


__all__ = ["check_out_dir", "write_report"]
