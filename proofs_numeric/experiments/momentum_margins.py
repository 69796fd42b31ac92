"""Momentum methods, Adam without eps, Muon and hybrids pick their own margin (Gronich & Vardi 2026; our defaults).

Data: sklearn digits even (+1) vs odd (-1), ``n_train`` unit-norm images (split seed 0, the same for all
seeds); or MNIST even vs odd from the user's files (``dataset="mnist", data_path=...``; CLI ``--dataset mnist
--data-path PATH``). Model: bias-free two-layer squared-ReLU net f(x) = a^T relu(W x)^2 (TwoLayerSquaredReLU, degree 3,
W: (width, 64) a matrix, a: (width,) a vector), init N(0, init^2) per entry from seed ``s`` (each seed its own
init, shared by all algorithms). Mean logistic loss; full batch; schedule eta_t = eta0 t^(-0.8) (eta0 per
algorithm, ETA0); training stops at L <= 1e-8 or after ``steps`` steps (digits_training.train).

Algorithms (name: optimizer, implicit norm of the theory):
* NGD: MomentumGD(beta=0) = normalized GD, l2;  MomentumGD(beta=0.9), l2;  Signum(beta=0.9), linf;
* Adam eps=0 (betas 0.9, 0.99: beta1 <= beta2), linf;  Adam eps=1e-8 (the practical variant, asymptotically
  l2: not an owner nor a rival in the claims);  Adam eps=0 beta1>beta2 (betas 0.99, 0.9: outside the
  theorem, reported only);
* Muon (exact SVD, beta 0.9), msp = kc.norm("spectral");  Muon-Signum, kc.norm("muon-signum");
  Muon-Adam at each ratio r = eta_0^A / eta_0^M in RATIOS, kc.norm("muon-adam:r"), eta^M = 0.3 / sqrt(min(r, 1));
  diagnostic "Muon-Adam r=... betas=0": the same with Adam betas (0, 0) on a (= sign descent there; reported,
  neither owner nor rival).

Recorded (log-spaced records): the hard normalized margin min_i y_i f(x_i) / ||theta||^3 in l2, linf, msp and the
hybrid norms; snapshots of theta for cos(theta_t, theta_end) (Euclidean cosine of the flattened parameters).
Claims and controls: ``_momentum_claims``. Cache: one JSON per (seed, algorithm) in ``out/cache``, keyed by
the SHA-256 of its configuration (written to a temporary name, then renamed; an interrupted run is redone).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from kktcheck import single_threaded

from ..budget import step_bar, time_limit
from ..results import Figure, describe_case
from ._digits_common import plot_runs
from ._momentum_claims import all_claims, kkt_table, summary_rows
from .base import ExperimentResult, register
from .digits_training import Run, record_steps, train

RATIOS = (0.1, 0.3, 3.0)
BETAS = (0.9, 0.99)   # Adam (beta1, beta2), beta1 <= beta2 as the theorem needs
DEFAULTS = dict(n_train=100, width=64, init=0.1, steps=6000, exponent=-0.8, stop_loss=1e-8, n_records=80,
                ratios=RATIOS)
QUICK = dict(DEFAULTS, n_train=50, width=24, steps=600, n_records=40)
N_SEEDS, N_SEEDS_QUICK = 5, 2
CACHE_VERSION = 2   # 2: the per-run field of TwoLayerSquaredReLU is its closed form (was autograd)
# eta0 per algorithm family: chosen so every run reaches L <= 1e-8 within the default budget (our choice)
ETA0 = dict(NGD=1.0, signum=0.06, adam=0.1, muon=0.4, muon_signum=0.3, muon_adam=0.3)


NO_MOMENTUM = " betas=0"


def muon_adam_name(r: float) -> str:
    return f"Muon-Adam r={r:g}"


def algorithms(ratios=RATIOS) -> dict:
    """name -> (make_opt(params) builder, implicit-norm name; None for the runs that are reported only: Adam
    eps=1e-8, Adam beta1 > beta2 and the Muon-Adam betas=0 diagnostics)."""
    from .. import optim as O
    for r in ratios:
        if not (isinstance(r, (int, float)) and math.isfinite(r) and r > 0):
            raise ValueError(f"ratios: every Muon-Adam ratio eta_0^A / eta_0^M must be a finite number > 0, "
                             f"got {r!r}")
    S = lambda e: O.power(e, -0.8)  # noqa: E731
    table = {
        "NGD": (lambda p: O.MomentumGD(p, 1.0, beta=0.0, schedule=S(ETA0["NGD"])), "l2"),
        "MomentumGD": (lambda p: O.MomentumGD(p, 1.0, beta=0.9, schedule=S(ETA0["NGD"])), "l2"),
        "Signum": (lambda p: O.Signum(p, 1.0, beta=0.9, schedule=S(ETA0["signum"])), "linf"),
        "Adam eps=0": (lambda p: O.Adam(p, 1.0, betas=BETAS, eps=0.0, schedule=S(ETA0["adam"])), "linf"),
        "Adam eps=1e-8": (lambda p: O.Adam(p, 1.0, betas=BETAS, eps=1e-8, schedule=S(ETA0["adam"])), None),
        "Adam eps=0 beta1>beta2": (lambda p: O.Adam(p, 1.0, betas=BETAS[::-1], eps=0.0,
                                                     schedule=S(ETA0["adam"])), None),
        "Muon": (lambda p: O.Muon(p, 1.0, beta=0.9, schedule=S(ETA0["muon"])), "spectral"),
        "Muon-Signum": (lambda p: O.MuonSignum(p, 1.0, beta=0.9, schedule=S(ETA0["muon_signum"])),
                        "muon-signum"),
    }
    for r in ratios:
        # eta^M = eta0 / sqrt(min(r, 1)), eta^A = r eta^M: both parts get a usable rate (our choice)
        table[muon_adam_name(r)] = (
            lambda p, r=r: O.MuonAdam(p, 1.0, ratio=r, betas=BETAS, eps=0.0,
                                      schedule=S(ETA0["muon_adam"] / math.sqrt(min(r, 1.0)))),
            f"muon-adam:{r:g}")
    for r in ratios:          # diagnostic (no claim of its own): Adam betas (0, 0) = sign descent on a
        table[muon_adam_name(r) + NO_MOMENTUM] = (
            lambda p, r=r: O.MuonAdam(p, 1.0, ratio=r, betas=(0.0, 0.0), eps=0.0,
                                      schedule=S(ETA0["muon_adam"] / math.sqrt(min(r, 1.0)))), None)
    return table


def norm_names(ratios=RATIOS) -> tuple:
    return ("l2", "linf", "spectral", "muon-signum", *(f"muon-adam:{r:g}" for r in ratios))


def _flat(ps):
    return torch.cat([p.detach().reshape(-1) for p in ps]).clone()


def train_with_snapshots(model, p0, data, make_opt, C, name, progress=None) -> Run:
    """digits_training.train plus snapshots of theta at 30 log-spaced steps;
    detail["cos_steps"], detail["cos_to_end"] = cos(theta_t, theta_end) (theta_0 = the init included)."""
    r = train(model, p0, data, make_opt, C["steps"], name=name, norms=norm_names(C["ratios"]),
              n_records=C["n_records"], stop_log_loss=math.log(C["stop_loss"]), progress=progress,
              snapshot_steps=record_steps(C["steps"], 30))
    snaps = {t: _flat(ps) for t, ps in r.detail.pop("snapshots").items()}
    end = _flat(r.params)
    steps = sorted(snaps)
    cos = [float(snaps[t] @ end / (snaps[t].norm() * end.norm())) for t in steps]
    r.detail.update(cos_steps=steps, cos_to_end=cos, end_step=int(r.steps[-1]))
    return r


def _key(C: dict, **extra) -> str:
    cfg = dict(exp="momentum_margins", v=CACHE_VERSION, eta0=ETA0, betas=list(BETAS), **extra,
               **{k: (list(v) if isinstance(v, tuple) else v) for k, v in C.items()})
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:20]


def _cached(cache_dir: Path, key: str, fn) -> Run:
    path = cache_dir / f"{key}.json"
    if path.is_file():
        try:
            return Run.from_dict(json.loads(path.read_text()))
        except Exception:  # noqa: BLE001 - corrupt entry: recompute
            pass
    r = fn()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(r.to_dict()))
    os.replace(tmp, path)
    return r


DATASETS = ("digits", "mnist")


def load_data(C: dict):
    """The even (+1) vs odd (-1) split of C["dataset"]: sklearn digits (default) or the MNIST training files at
    C["data_path"] (``datasets.mnist`` layouts), n_train unit-norm images, split seed 0."""
    dataset = C.get("dataset", "digits")
    if dataset == "digits":
        from ..datasets.digits import load_digits_parity
        return load_digits_parity(C["n_train"], seed=0)
    from ..datasets.mnist import load_mnist_parity
    return load_mnist_parity(C["data_path"], C["n_train"], seed=0)


def check_dataset(dataset: str, data_path) -> dict:
    """The config entries for ``dataset`` (none for the default, so cached digits runs keep their keys)."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if dataset == "digits":
        if data_path is not None:
            raise ValueError("data_path is only used with dataset='mnist' (sklearn digits ship with scikit-learn)")
        return {}
    if data_path is None:
        raise ValueError("dataset='mnist' needs data_path: a directory with the MNIST IDX training files or an .npz "
                         "(proofs-numeric experiment momentum_margins --dataset mnist --data-path PATH)")
    return {"dataset": "mnist", "data_path": str(Path(data_path).expanduser().resolve())}


def seed_runs(seed: int, C: dict, cache_dir, progress: bool = False):
    """All algorithms from the init of ``seed``; returns (data split, model, {name: Run})."""
    from ..smooth_models import TwoLayerSquaredReLU
    ds = load_data(C)
    model = TwoLayerSquaredReLU(ds.X_train.shape[1], C["width"])
    p0 = model.init(C["init"], torch.Generator().manual_seed(int(seed)))
    runs = {}
    for name, (make_opt, _) in algorithms(C["ratios"]).items():
        bar = step_bar(C["steps"], f"seed {seed} {name}", progress)
        try:
            runs[name] = _cached(Path(cache_dir), _key(C, algo=name, seed=int(seed)), lambda: train_with_snapshots(
                model, p0, ds.train, make_opt, C, name, bar))
        finally:
            if bar is not None:
                bar.close()
    return ds, model, runs


def kkt_measures(per_seed: dict, model, data, cache_dir, C: dict) -> dict:
    """{(seed, algo, norm): kc.residual(final iterate).measure} for the (algo, own, other) rows of KKT_PAIRS,
    measure program only (pair=False), cached as JSON next to the runs."""
    import kktcheck as kc
    from ._momentum_claims import KKT_PAIRS
    out = {}
    for s, runs in per_seed.items():
        for algo, own, other in KKT_PAIRS:
            for nm in (own, other):
                path = Path(cache_dir) / f"kkt-{_key(C, algo=algo, seed=int(s), norm=nm)}.json"
                if not path.is_file():
                    res = kc.residual(runs[algo].params, data, model=model, norm=nm, pair=False,
                                      time_limit=time_limit(120))
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps({"measure": float(res.measure), "status": res.status}))
                out[(s, algo, nm)] = json.loads(path.read_text())["measure"]
    return out


@register("momentum_margins", "Momentum, Adam (eps=0), Muon and hybrids: each maximizes its own margin "
                              "(Gronich & Vardi 2026), digits even vs odd, squared-ReLU net")
def run(out=None, *, seeds=None, quick: bool = False, progress: bool = True, kkt: bool = True,
        dataset: str = "digits", data_path=None, **overrides) -> ExperimentResult:
    """Run every algorithm on every seed (cached), then the claims of ``_momentum_claims``.
    ``quick``: 2 seeds, n_train 50, width 24, 600 steps (KKT measures on the first seed only);
    ``kkt=False`` skips the KKT measures; ``dataset="mnist"`` with ``data_path`` (the MNIST training files,
    read by ``datasets.mnist``) replaces sklearn digits; ``overrides`` replace entries of DEFAULTS."""
    C = dict(QUICK if quick else DEFAULTS, **overrides, **check_dataset(dataset, data_path))
    load_data(C)              # a missing or malformed MNIST path fails here, before any training
    out = Path(out or "experiment-momentum_margins")
    out.mkdir(parents=True, exist_ok=True)
    C["ratios"] = tuple(float(r) for r in C["ratios"])
    seeds = list(seeds) if seeds else list(range(N_SEEDS_QUICK if quick else N_SEEDS))
    owners = {n: nm for n, (_, nm) in algorithms(C["ratios"]).items()}
    per_seed = {}
    with single_threaded():
        for s in seeds:
            ds, model, per_seed[s] = seed_runs(s, C, out / "cache", progress)
    norms = norm_names(C["ratios"])
    first = per_seed[seeds[0]]
    title = f"{ds.name}, squared-ReLU width {C['width']}, seed {seeds[0]}"
    shown = {n: r for n, r in first.items() if NO_MOMENTUM not in n and "beta1>beta2" not in n}
    figs = [plot_runs(shown, norms[:3], out / "momentum_margins.png", title),
            plot_runs(shown, norms[3:], out / "momentum_margins_hybrid.png", title + " (hybrid norms)")]
    reached = "; ".join(f"{n}: {r.status} at step {int(r.steps[-1])}, L = {math.exp(r.log_loss[-1]):.2g}"
                        for n, r in first.items())
    case = describe_case(model, ds.train, data_name=("sklearn " if dataset == "digits" else "") + ds.name,
                         algorithm=", ".join(first), norm="each algorithm's implicit norm",
                         step=f"eta0 t^-0.8 (eta0 {ETA0}), <= {C['steps']} steps, stop at L <= {C['stop_loss']:g}; "
                              f"seeds {seeds}", reached=f"seed {seeds[0]}: {reached}")
    measures = None
    if kkt:
        kseeds = seeds[:1] if quick else seeds
        with single_threaded():
            measures = kkt_measures({s: per_seed[s] for s in kseeds}, model, ds.train, out / "cache", C)
    claims = all_claims(per_seed, owners, C["ratios"], measures)
    for c in claims:
        c.case = c.case or case
    tables = {**summary_rows(per_seed, owners, norms), **kkt_table(measures)}
    return ExperimentResult(
        "momentum_margins", claims, [Figure(f, f"Normalized margins over training (log-log), seed {seeds[0]}, "
                                               "without the beta1>beta2 and betas=0 runs (tables only): "
                                               f"{case.text()}") for f in figs], tables,
        f"Gronich & Vardi 2026 on {ds.name} ({len(seeds)} seeds, our defaults, "
        "docs/experiments.md). The claims are the paper's empirical claims (informational).",
        title="Momentum, Adam without eps, Muon and hybrids: own-norm margins (Gronich & Vardi 2026)", case=case)


__all__ = ["run", "load_data", "check_dataset", "DATASETS",
           "algorithms", "norm_names", "seed_runs", "train_with_snapshots", "RATIOS", "DEFAULTS", "QUICK",
           "ETA0", "muon_adam_name"]
