"""How a sweep calls an experiment through its public ``run`` function, and what it keeps of the result.

The fields of an experiment are read off its ``run`` signature: every keyword parameter other than ``out``,
``seeds``, ``quick``, ``progress``, ``config`` and ``device`` is a field (e.g. ``kkt_runs``, ``steps``, ``pair``);
when ``run`` takes ``config=`` or ``**overrides``, the keys of the module's ``DEFAULTS`` table are fields too
(passed as ``config={...}`` or as keywords, as the function expects). ``device`` is the sweep's (``[sweep]
device`` or ``--device``), passed as ``run(device=...)`` to an experiment that takes it; never a field, so a
task's identity does not depend on it.

What a task keeps (``outcome``):
* ``claims``: every claim row of the ``ExperimentResult`` (id, claim, measured, threshold, verdict, flags);
* ``finals``: final figures, name -> list of numbers (one per run of that kind in the task): always
  ``claim:<id>`` (the claim's measured value); for teacher_student also, per run label (GD, CD, SD, GD->SD,
  GD->CD), ``<label>:margin_<p>`` (final hard margin min_i q_i / ||theta||_p^2 in p = l1, l2, linf),
  ``<label>:own_margin`` (the margin in the norm of the algorithm the run ends with), ``<label>:test_acc``,
  ``<label>:log_loss_end`` and ``<label>:fit_step`` (first step with 100% train accuracy, -1 never);
* ``series``: the measured curves; for teacher_student one entry per run (seed, alpha, run label, record
  steps, log L, margins per norm), for the other experiments the experiment's tables (rows of text).
Nothing that depends on the cache state or the output path is kept, so a task recomputed after an
interruption gives the same outcome.
"""
from __future__ import annotations

import importlib
import inspect
import math
from dataclasses import dataclass

RESERVED = ("out", "seeds", "quick", "progress", "config", "device")   # device: the sweep's, not a field


@dataclass(frozen=True)
class Adapter:
    experiment: str
    run: object
    options: tuple          # keyword parameters of run that are fields
    defaults: tuple         # DEFAULTS keys that are fields
    via_config: bool        # defaults passed as config={...} (else as keywords)
    accepts_device: bool = False    # run takes device= (the sweep's device, never a configuration field)

    @property
    def fields(self) -> tuple:
        return self.options + tuple(k for k in self.defaults if k not in self.options)

    def call(self, out, config: dict, seeds, quick: bool, device: str | None = None):
        """Run the experiment into ``out`` on ``config`` and ``seeds`` (no progress bars)."""
        opts = {k: v for k, v in config.items() if k in self.options}
        rest = {k: v for k, v in config.items() if k not in self.options}
        if device is not None:
            opts["device"] = device
        if self.via_config:
            return self.run(out, seeds=list(seeds), quick=quick, progress=False, config=rest, **opts)
        return self.run(out, seeds=list(seeds), quick=quick, progress=False, **rest, **opts)


def adapter_for(name: str) -> Adapter:
    """The adapter of a registered experiment (ValueError listing the valid names for an unknown one)."""
    from ..experiments import get
    exp = get(name)
    params = inspect.signature(exp.run).parameters
    options = tuple(k for k, p in params.items() if k not in RESERVED and p.kind == p.KEYWORD_ONLY)
    takes_config = "config" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    module = importlib.import_module(exp.run.__module__)
    defaults = tuple(getattr(module, "DEFAULTS", {})) if takes_config else ()
    return Adapter(name, exp.run, options, defaults, "config" in params, "device" in params)


def claim_rows(result) -> list:
    """The claim rows of an ExperimentResult as plain dicts (no case 'reached' text, no figures: those
    mention the cache and the output path)."""
    rows = []
    for c in result.claims:
        m = c.measured
        rows.append({"id": c.name, "claim": c.claim, "definition": c.definition, "measured": m
                     if math.isfinite(m) else None, "tolerance": c.tolerance, "comparison": c.comparison,
                     "passed": bool(c.passed), "evidence": bool(c.has_evidence), "verdict": c.verdict,
                     "negative_control": bool(c.negative_control), "informational": bool(c.informational),
                     "changed": c.changed})
    return rows


def _finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def teacher_student_runs(adapter: Adapter, out, config: dict, seeds, quick: bool) -> tuple:
    """(finals, series) of the teacher-student runs, read back from the experiment's run cache in ``out``."""
    from pathlib import Path
    from ..experiments import teacher_student as ts
    from ..experiments.batched import ALGO_NORM, NORMS
    C = dict(ts.QUICK if quick else ts.DEFAULTS, **{k: v for k, v in config.items() if k in adapter.defaults})
    runs = ts.load_or_train(Path(out) / "cache", C, list(seeds), False)
    finals, series = {}, []
    for r in runs:
        lab = ts.label(r["algo"], r["switch"])
        own = ALGO_NORM[r["switch"] or r["algo"]]
        vals = {f"margin_{p}": r["margins"][p][-1] for p in NORMS}
        vals.update(own_margin=r["margins"][own][-1], test_acc=r["test_acc"], log_loss_end=r["log_loss"][-1],
                    fit_step=r["fit_step"])
        for k, v in vals.items():
            finals.setdefault(f"{lab}:{k}", []).append(_finite(v))
        series.append({"seed": r["seed"], "alpha": r["alpha"], "run": lab, "steps": r["record_steps"],
                       "log_loss": [_finite(v) for v in r["log_loss"]],
                       "margins": {p: [_finite(v) for v in r["margins"][p]] for p in NORMS}})
    return finals, series


def table_series(result) -> list:
    """The experiment's tables as [{"caption", "rows"}] with every cell as text (the generic series)."""
    return [{"caption": str(cap), "rows": [{str(k): str(v) for k, v in row.items()} for row in rows]}
            for cap, rows in (result.tables or {}).items() if isinstance(rows, list)
            and all(isinstance(r, dict) for r in rows)]


def outcome(adapter: Adapter, out, config: dict, seeds, quick: bool, device: str | None = None) -> dict:
    """Run the task and return {"claims", "finals", "series"} (see the module docstring)."""
    result = adapter.call(out, config, seeds, quick, device)
    claims = claim_rows(result)
    finals = {f"claim:{c['id']}": [c["measured"]] for c in claims}
    if adapter.experiment == "teacher_student":
        runs_finals, series = teacher_student_runs(adapter, out, config, seeds, quick)
        finals.update(runs_finals)
    else:
        series = table_series(result)
    return {"claims": claims, "finals": finals, "series": series}


__all__ = ["Adapter", "adapter_for", "claim_rows", "outcome", "table_series", "teacher_student_runs"]
