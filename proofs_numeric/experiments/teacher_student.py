"""Teacher-student experiment (paper Fig. 1; two-layer ReLU student on ReLU-teacher data; our defaults).

Per seed: data ``teacher_student(d=30, n=40, seed)`` (k* = 3 teacher neurons, 3 active coordinates each,
a* alternating +-1), one Gaussian init W0, a0 ~ N(0, alpha^2) (every parameter at the same scale; seed stream
SeedSequence([seed, 2])); the pure CD runs start from cd_init_factor * (W0, a0) (the paper uses a separate CD
init "to keep all the individual parameters to the same scale", but its formula is lost in our copy of the
paper; default factor 1: CD shares the init of GD and SD), student width 100, exponential loss (summed). Runs: GD
(l2), CD (l1, sliding along ReLU kinks: ``batched.KinkSlide``), SD (linf) and the switches GD->SD, GD->CD at
each run's first step with 100% train accuracy, all trained together by ``batched.train_batched`` (step rule
documented there: normalized steepest descent, eta_t = kappa_t min(c / ||g||_*, h max|theta| /
||dualize(g)||_inf), c = 0.1, h = 0.05). Init scales alpha in {1e-3, 1e-2, 1e-1}; 20 seeds, 6000 steps
(quick: 4 seeds, alpha = 0.1, 2500 steps, 5,000 test points). Test accuracy on 20,000 fresh points of the
same teacher. Claims and tables: ``_ts_report`` and ``_ts_generalization``.

Cache: ``cache.RunCache`` (one JSON per run in ``out/cache`` keyed by its configuration, CACHE_VERSION and the
package version; atomic writes; unusable entries recomputed with a warning); missing runs of an init scale are
trained together, finished ones reused, and the report's case line says how many were reused.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from kktcheck import single_threaded

from ..budget import step_bar
from ..datasets.teacher_student import N_TEST, teacher_student
from ..device import resolve_device
from .base import ExperimentResult, register
from .batched import NORMS, train_batched
from .cache import RunCache

RUNS = (("GD", None), ("CD", None), ("SD", None), ("GD", "SD"), ("GD", "CD"))
DEFAULTS = dict(d=30, n=40, width=100, k_star=3, active=3, steps=6000, lr=0.1, max_rel_step=0.05,
                alphas=(1e-3, 1e-2, 1e-1), n_records=60, n_test=N_TEST, cd_init_factor=1.0)
QUICK = dict(DEFAULTS, steps=2500, alphas=(1e-1,), n_test=5000)
N_SEEDS, N_SEEDS_QUICK = 20, 4
CACHE_VERSION = 2   # part of every cache key: bump it when the training or the recorded fields change
# 2: CD slides along ReLU kinks (batched.KinkSlide); every-step soft-margin drop recorded; cd_init_factor


def label(algo, switch):
    return algo if switch is None else f"{algo}->{switch}"


def init_params(seed: int, width: int, d: int, alpha: float):
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    W = torch.as_tensor(alpha * rng.standard_normal((width, d)), dtype=torch.float64)
    return W, torch.as_tensor(alpha * rng.standard_normal(width), dtype=torch.float64)


def _test_accuracy(W, a, test):
    X, y = test
    with torch.no_grad():
        return float(((y * (torch.relu(X @ W.T) @ a)) > 0).double().mean())


def train_group(cfgs: list, C: dict, progress: bool, device=None) -> list:
    """Train the runs ``cfgs`` (one init scale) in one batch on ``device``; return their JSON-ready dicts."""
    data = {c["seed"]: teacher_student(C["d"], C["n"], k_star=C["k_star"], active=C["active"], seed=c["seed"])
            for c in cfgs}
    inits = [init_params(c["seed"], C["width"], C["d"], c["alpha"] * (C["cd_init_factor"] if (c["algo"], c["switch"])
                         == ("CD", None) else 1.0)) for c in cfgs]
    W0, a0 = torch.stack([w for w, _ in inits]), torch.stack([a for _, a in inits])
    X = torch.stack([data[c["seed"]].X for c in cfgs])
    y = torch.stack([data[c["seed"]].y for c in cfgs])
    bar = step_bar(C["steps"], f"teacher-student alpha={cfgs[0]['alpha']:g} ({len(cfgs)} runs)", progress)
    try:
        lr = {k: C["lr"] for k in ("GD", "CD", "SD")}
        br = train_batched(W0, a0, X, y, [c["algo"] for c in cfgs], switch_to=[c["switch"] for c in cfgs],
                           lr=lr, steps=C["steps"], max_rel_step=C["max_rel_step"], n_records=C["n_records"],
                           progress=bar, device=device)
    finally:
        if bar is not None:
            bar.close()
    tests = {s: ds.test_set(C["n_test"]) for s, ds in data.items()}
    out = []
    for i, c in enumerate(cfgs):
        out.append(dict(c, record_steps=br.steps.tolist(), log_loss=br.log_loss[i].tolist(),
                        accuracy=br.accuracy[i].tolist(),
                        margins={p: br.margins[p][i].tolist() for p in NORMS},
                        soft={p: br.soft[p][i].tolist() for p in NORMS},
                        margins_at_fit={p: float(br.margins_at_fit[p][i]) for p in NORMS},
                        fit_step=int(br.fit_step[i]), stop_step=int(br.stop_step[i]),
                        worst_drop={p: float(br.worst_drop[p][i]) for p in NORMS}, drop_steps=int(br.drop_steps[i]),
                        W=br.W[i].tolist(), a=br.a[i].tolist(),
                        test_acc=_test_accuracy(br.W[i], br.a[i], tests[c["seed"]])))
    return out


PAYLOAD_KEYS = ("record_steps", "log_loss", "accuracy", "margins", "soft", "margins_at_fit", "fit_step",
                "stop_step", "W", "a", "test_acc", "worst_drop", "drop_steps")


def _validator(cfg: dict):
    """Reject a cached payload that lacks a recorded field or belongs to another configuration."""
    def validate(r):
        missing = [k for k in PAYLOAD_KEYS if k not in r]
        wrong = [k for k in cfg if r.get(k) != cfg[k]]
        if missing or wrong:
            raise ValueError(f"missing fields {missing}, configuration fields differing {wrong}")
    return validate


def load_or_train(cache, C: dict, seeds, progress: bool, device=None) -> list:
    """All runs (dicts) for every init scale and seed, from the cache (a RunCache or its directory) where
    possible; the missing runs of an init scale are trained together on ``device`` and stored (the cache key
    is the configuration, not the device: a cached run is reused whichever device trained it)."""
    if not isinstance(cache, RunCache):
        cache = RunCache(cache, "teacher_student", CACHE_VERSION)
    base = {k: C[k] for k in ("d", "n", "width", "k_star", "active", "steps", "lr", "max_rel_step",
                              "n_records", "n_test", "cd_init_factor")}
    runs = []
    for alpha in C["alphas"]:
        cfgs = [dict(base, alpha=alpha, seed=s, algo=al, switch=sw) for s in seeds for al, sw in RUNS]
        have, todo = {}, []
        for c in cfgs:
            r = cache.load(c, _validator(c))
            if r is None:
                todo.append(c)
            else:
                have[cache.key(c)] = r
        for r in (train_group(todo, C, progress, device) if todo else []):
            c = {k: r[k] for k in cfgs[0]}
            cache.save(c, r)
            have[cache.key(c)] = r
        runs += [have[cache.key(c)] for c in cfgs]
    return runs


@register("teacher_student", "Teacher-student (paper Fig. 1): GD, CD, SD margins, ordering, test accuracy, switches")
def run(out=None, *, seeds=None, quick: bool = False, progress: bool = True, config: dict | None = None,
        kkt_runs: int | None = None, device=None) -> ExperimentResult:
    """Run the experiment into ``out``; ``config`` overrides entries of DEFAULTS (or QUICK when quick);
    ``device``: where the batched engine trains (None/"cpu", "cuda", "cuda:N"; checked before any work, float64
    either way; the KKT measures and reports run on the CPU)."""
    from . import _ts_depth as D, _ts_report as R
    dev = resolve_device(device)
    out = Path(out or "experiment-teacher_student")
    out.mkdir(parents=True, exist_ok=True)
    C = dict(QUICK if quick else DEFAULTS, **(config or {}))
    unknown = set(config or {}) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; valid: {sorted(DEFAULTS)}")
    seeds = list(seeds) if seeds is not None else list(range(N_SEEDS_QUICK if quick else N_SEEDS))
    cache = RunCache(out / "cache", "teacher_student", CACHE_VERSION)
    with single_threaded():
        runs = load_or_train(cache, C, seeds, progress, dev)
        claims, tables = R.claims_and_tables(runs, C)
        figures = R.figures(runs, C, out)
        kkt_n = kkt_runs if kkt_runs is not None else (1 if quick else 2)
        kkt_claims, kkt_table = R.kkt(runs, C, kkt_n)
        deep = D.depth_runs(runs, C, cache, 2 if quick else len(seeds))
        deep_kkt = ([], []) if quick else R.kkt(D.as_runs(deep, C), C, kkt_n, tag="-at-depth")
    claims += kkt_claims + deep_kkt[0] + [D.own_margin_at_depth(deep), D.own_margin_at_depth(deep, negative=True)]
    tables["KKT measure of (MM) at the final iterate, per norm (kc.residual(...).measure)"] = kkt_table
    if not quick:   # the measures at depth take 10-30 s each in linf (ties): the full run only
        tables[f"KKT measure at the late-phase continuation's end (log10 L = {D.DEPTH:g}), per norm"] = deep_kkt[1]
    tables[f"late-phase continuation of GD, SD and CD to log10 L = {D.DEPTH:g} (RidgeStep({D.H}), largest alpha)"] = \
        D.depth_table(deep)
    summary = (f"Teacher-student, {len(seeds)} seeds x init scales {list(C['alphas'])}, {C['steps']} steps; "
               f"d={C['d']}, n={C['n']}, width {C['width']} (our defaults; docs/experiments.md); seeds {seeds}; "
               f"{cache.summary_line()}" + ("." if dev.type == "cpu" else f"; new runs trained on {dev}."))
    from ..results import Case
    case = Case("two-layer ReLU student", f"ReLU-teacher data, init scales {list(C['alphas'])}, {len(seeds)} seeds",
                C["n"], C["d"], C["width"], "GD, CD, SD and the switches GD->SD, GD->CD (batched engine)",
                "l2 / l1 / linf", f"{C['steps']} steps",
                f"see the tables: runs that reached L < 1 per algorithm; {cache.summary_line()}")
    return ExperimentResult("teacher_student", claims, figures, tables, summary,
                            title="Teacher-student: margins of GD, CD and SD", case=case, seeds=seeds)


__all__ = ["run", "RUNS", "DEFAULTS", "QUICK", "init_params", "load_or_train", "label"]
