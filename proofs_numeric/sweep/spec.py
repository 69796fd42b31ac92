"""A sweep description (TOML) and its expansion into tasks.

A spec names one registered experiment, the seeds, the configuration held fixed, and either a ``[grid]``
(the cartesian product of the listed values, in the order the fields are written) or a list of
``[[points]]`` (each a partial configuration). A configuration point is the fixed fields updated by one grid
or list point; the tasks are (point, seed group) pairs, the seeds cut into consecutive groups of
``seeds_per_task`` (one group is trained together when the experiment batches seeds).

    [sweep]
    experiment = "teacher_student"
    quick = true            # the experiment's small defaults (its QUICK table) before the overrides below
    seeds = 2               # an integer N (seeds 0..N-1) or a list of integers
    seeds_per_task = 1
    device = "cpu"          # optional: "cuda" / "cuda:N" trains on a GPU (``--device`` overrides it)
    [fixed]
    steps = 300
    [grid]
    width = [50, 100]
    [report]
    figure = "SD:own_margin"    # a final figure of the records (sweep-report plots it ...)
    x = "width"                 # ... against this swept field

Every name is checked against the experiment before any task starts (``adapters.fields``): an unknown
experiment, an unknown field, an empty grid or an empty seed list is a ValueError naming what to fix.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

SWEEP_KEYS = {"experiment", "quick", "seeds", "seeds_per_task", "name", "device"}
TOP_KEYS = {"sweep", "fixed", "grid", "points", "report"}


@dataclass(frozen=True)
class Task:
    """One unit of work: the experiment run on one configuration point and one group of seeds."""
    experiment: str
    quick: bool
    config: dict                       # the configuration point (field -> value)
    seeds: tuple

    @property
    def identity(self) -> dict:
        return {"experiment": self.experiment, "quick": self.quick, "config": self.config,
                "seeds": list(self.seeds)}

    @property
    def task_id(self) -> str:
        """sha256 of the identity (sorted-key JSON), first 16 hex digits: same task, same id, any machine."""
        text = json.dumps(self.identity, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class SweepSpec:
    experiment: str
    seeds: list
    quick: bool = False
    seeds_per_task: int = 1
    fixed: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    points: list = field(default_factory=list)
    report: dict = field(default_factory=dict)
    name: str = ""
    device: str | None = None          # where the tasks train (None: the CPU); not part of a task's identity

    def configurations(self) -> list:
        """The configuration points: fixed updated by each grid combination (or each listed point)."""
        if self.points:
            return [dict(self.fixed, **p) for p in self.points]
        keys = list(self.grid)
        return [dict(self.fixed, **dict(zip(keys, combo)))
                for combo in itertools.product(*(self.grid[k] for k in keys))]

    def swept_fields(self) -> list:
        """The fields that vary between configuration points (grid keys, or keys of the listed points)."""
        if self.points:
            return list(dict.fromkeys(k for p in self.points for k in p))
        return list(self.grid)

    def tasks(self) -> list:
        groups = [tuple(self.seeds[i:i + self.seeds_per_task])
                  for i in range(0, len(self.seeds), self.seeds_per_task)]
        return [Task(self.experiment, self.quick, cfg, g) for cfg in self.configurations() for g in groups]


def _seed_list(value) -> list:
    if isinstance(value, bool) or not isinstance(value, (int, list)):
        raise ValueError(f"[sweep] seeds must be an integer N (seeds 0..N-1) or a list of integers, got {value!r}")
    seeds = list(range(value)) if isinstance(value, int) else value
    if not seeds:
        raise ValueError("[sweep] seeds is empty: give at least one seed (seeds = 2, or seeds = [0, 1])")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"[sweep] seeds must be distinct integers, got {seeds!r}")
    return seeds


def _check_grid(grid: dict, points: list) -> None:
    if grid and points:
        raise ValueError("a spec has either a [grid] table or a list of [[points]], not both")
    if not grid and not points:
        raise ValueError("the spec has neither a [grid] nor [[points]]: add e.g. [grid] width = [50, 100] "
                         "(an empty table is an empty sweep)")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise ValueError(f"[grid] {k} must be a non-empty list of values, got {v!r}")
    for i, p in enumerate(points):
        if not isinstance(p, dict) or not p:
            raise ValueError(f"[[points]] entry {i} must be a non-empty table of field = value")


def parse_spec(data: dict) -> SweepSpec:
    """A ``SweepSpec`` from the parsed TOML tables; field names are checked by ``validate``."""
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ValueError(f"unknown top-level table(s) {sorted(unknown)}; valid: {sorted(TOP_KEYS)}")
    head = data.get("sweep")
    if not isinstance(head, dict) or "experiment" not in head:
        raise ValueError("the spec needs a [sweep] table with experiment = \"NAME\" (see `proofs-numeric list`)")
    bad = set(head) - SWEEP_KEYS
    if bad:
        raise ValueError(f"unknown key(s) {sorted(bad)} in [sweep]; valid: {sorted(SWEEP_KEYS)}")
    per_task = head.get("seeds_per_task", 1)
    if isinstance(per_task, bool) or not isinstance(per_task, int) or per_task < 1:
        raise ValueError(f"[sweep] seeds_per_task must be a positive integer, got {per_task!r}")
    grid, points = data.get("grid", {}), data.get("points", [])
    _check_grid(grid, points)
    device = head.get("device")
    if device is not None and not isinstance(device, str):
        raise ValueError(f"[sweep] device must be a string: \"cpu\", \"cuda\" or \"cuda:N\", got {device!r}")
    report = data.get("report", {})
    if set(report) - {"figure", "x"}:
        raise ValueError(f"unknown key(s) {sorted(set(report) - {'figure', 'x'})} in [report]; valid: figure, x")
    return SweepSpec(str(head["experiment"]), _seed_list(head.get("seeds", 1)), bool(head.get("quick", False)),
                     per_task, dict(data.get("fixed", {})), dict(grid), list(points), dict(report),
                     str(head.get("name", "")), device)


def validate(spec: SweepSpec) -> SweepSpec:
    """Check the experiment name and every field name against the experiment (before any task runs)."""
    from .adapters import adapter_for
    adapter = adapter_for(spec.experiment)
    names = set(spec.fixed) | set(spec.grid) | {k for p in spec.points for k in p}
    unknown = sorted(names - set(adapter.fields))
    if unknown:
        raise ValueError(f"unknown field(s) {unknown} for experiment {spec.experiment!r}; valid fields: "
                         f"{', '.join(sorted(adapter.fields))}")
    x = spec.report.get("x")
    if x is not None and x not in spec.swept_fields():
        raise ValueError(f"[report] x = {x!r} is not a swept field; swept: {spec.swept_fields()}")
    return spec


def load_spec(path) -> SweepSpec:
    """Read, parse and validate a TOML spec file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise ValueError("reading a TOML sweep spec needs Python >= 3.11 (tomllib); build the spec with "
                         "parse_spec({...}) instead") from None
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"sweep spec {p} does not exist or is not a file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"sweep spec {p} is not valid TOML: {exc}") from None
    return validate(parse_spec(data))


__all__ = ["Task", "SweepSpec", "parse_spec", "validate", "load_spec"]
