"""``run_sweep``: validate everything, skip finished tasks, run the rest on an executor, merge.

Order of work (every bad input fails before the first task starts): the spec (experiment and field names,
non-empty grid and seeds), the device (CUDA available when asked, an experiment that takes it), the output
directory (``report.check_out_dir``: a file or an unwritable path is a ValueError) and its finished records
(all on the device type asked for), then the executor (Ray installed and reachable). Then the tasks without
a complete "ok" record run; each finished task's record is written at once, so Ctrl-C, a killed worker or a
lost node costs at most the tasks in flight. A task that raises records its error and the sweep goes on. At
the end the records are merged (``records.merge``) and the summary lists the failures.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..device import resolve_device
from .executors import make_executor
from .records import code_version, finished, load_records, merge, save_record
from .spec import SweepSpec, load_spec, validate

SPEC_COPY = "sweep.json"


@dataclass
class SweepSummary:
    out: Path
    total: int
    skipped: int
    ran: int
    failures: list = field(default_factory=list)     # records with status "error"
    seconds: float = 0.0
    paths: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list:
        lines = [f"sweep: {self.total} tasks; {self.skipped} already finished (skipped), {self.ran} run now "
                 f"in {self.seconds:.1f} s; {len(self.failures)} failed"]
        for r in self.failures:
            lines.append(f"  FAILED {r['task_id']} config {json.dumps(r['config'], sort_keys=True)} seeds "
                         f"{r['seeds']}: {r['error']}")
        return lines + [f"records in {self.out / 'records'}; merged: " + ", ".join(str(p) for p in
                                                                                    self.paths.values())]


def check_device(device, adapter, argument: str = "device") -> str | None:
    """The device text the tasks get: None for the CPU (every experiment runs there), "cuda:N" for a GPU,
    which needs torch.cuda.is_available() (``device.resolve_device``) and an experiment whose ``run`` takes
    ``device=``. float64 is kept either way."""
    dev = resolve_device(device, argument=argument)
    if dev.type == "cpu":
        return None
    if not adapter.accepts_device:
        raise ValueError(f"{argument} {device}: experiment {adapter.experiment!r} takes no device argument (its "
                         "run function trains on the CPU); run it without a device")
    return str(dev)


def check_resume_device(out, tasks, device: str | None) -> None:
    """Refuse to resume a sweep whose finished ("ok") records ran on another device type (cpu / cuda): a GPU
    rounds float64 reductions in another order, so one results table would silently mix two kinds of runs
    and an interrupted-and-resumed sweep would no longer equal an uninterrupted one. Records without a
    device field ran on the CPU (the only device before devices were recorded)."""
    wanted = resolve_device(device).type
    found = Counter(str(r.get("device") or "cpu").split(":")[0] for r in load_records(out, tasks)
                    if r.get("status") == "ok")
    found.pop(wanted, None)
    if found:
        done = ", ".join(f"{n} on {kind}" for kind, n in sorted(found.items()))
        raise ValueError(f"{out} already holds finished tasks run on another device ({done}); this run asks for "
                         f"{wanted}. Mixing devices in one sweep is refused (float64 on a GPU rounds differently): "
                         f"rerun with the device of the finished tasks, or give a new --out for the {wanted} run")


def prepare(spec, out, executor: str, address, workers, device):
    """Validate everything (spec, out dir, device, executor) before any task; returns (spec, out, executor,
    device). ``device`` (the argument, else the spec's ``[sweep] device``) is recorded in the spec copy."""
    from ..report.write import check_out_dir
    from .adapters import adapter_for
    spec = load_spec(spec) if not isinstance(spec, SweepSpec) else validate(spec)
    if not spec.tasks():
        raise ValueError("the sweep expands to no tasks (empty grid or seed list)")
    argument = "device" if device is not None else "[sweep] device"
    device = check_device(device if device is not None else spec.device, adapter_for(spec.experiment), argument)
    out = check_out_dir(out)
    check_resume_device(out, spec.tasks(), device)
    spec = replace(spec, device=device or "cpu")
    return spec, out, make_executor(executor, address, workers, gpu=device is not None), device


def run_sweep(spec, out, *, executor: str = "local", address: str | None = None, workers: int | None = None,
              device: str | None = None, progress: bool = True, only=None) -> SweepSummary:
    """Run the sweep ``spec`` (a TOML path or a SweepSpec) into ``out``. ``only``: run at most this many of
    the unfinished tasks (in spec order; for tests and benchmarks of resumption)."""
    spec, out, ex, device = prepare(spec, out, executor, address, workers, device)
    (out / SPEC_COPY).write_text(json.dumps(asdict(spec), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tasks = spec.tasks()
    todo = [t for t in tasks if not finished(out, t)]
    skipped = len(tasks) - len(todo)
    todo = todo if only is None else todo[:only]
    version, t0 = code_version(), time.perf_counter()
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(todo), desc=f"sweep {spec.experiment} ({ex.name})")
    try:
        for rec in ex.map(todo, str(out / "work"), version, device):
            save_record(out, rec)
            if bar is not None:
                bar.update(1)
    finally:
        ex.close()
        if bar is not None:
            bar.close()
    paths = merge(out, tasks)
    failures = [r for r in load_records(out, tasks) if r["status"] != "ok"]
    return SweepSummary(out, len(tasks), skipped, len(todo), failures, time.perf_counter() - t0, paths)


def load_sweep(out) -> SweepSpec:
    """The spec a sweep in ``out`` ran (``out/sweep.json``), for ``sweep-report``."""
    p = Path(out) / SPEC_COPY
    if not p.is_file():
        raise ValueError(f"{out} holds no sweep ({SPEC_COPY} missing): run `proofs-numeric sweep SPEC.toml "
                         f"--out {out}` first")
    return SweepSpec(**json.loads(p.read_text(encoding="utf-8")))


__all__ = ["SweepSummary", "run_sweep", "prepare", "check_device", "check_resume_device", "load_sweep", "SPEC_COPY"]
