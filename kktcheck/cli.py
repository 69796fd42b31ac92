"""Command line: ``kktcheck residual MODEL.pt DATA.npz [--norm linf] [--json OUT]``.

MODEL.pt is a whole ``torch.nn.Module`` saved with ``torch.save(model, path)``. Loading it runs
``torch.load(path, weights_only=False)``, which unpickles arbitrary Python objects: only load files you
trust. DATA.npz holds arrays ``X`` (n, d, ...) and ``y`` (n,) with labels in {-1, +1}.
Exit codes: 0 success, 1 the residual program did not solve, 2 bad input.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kktcheck", description="Certificates for the max-margin problem (MM) "
                                "of homogeneous networks.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("residual", help="approximate-KKT residuals of (MM) at a trained model",
                       description="Rescale the model to theta / q_min^(1/L) and print the named KKT residuals "
                       "(stationarity in the dual norm, complementarity, feasibility) and the multipliers' summary.")
    r.add_argument("model", help="MODEL.pt: a torch.save'd bias-free nn.Module (loaded with weights_only=False: "
                   "trusted files only)")
    r.add_argument("data", help="DATA.npz with arrays X and y (y in {-1, +1})")
    r.add_argument("--norm", default="l2", help="algorithm norm: l2, l1, linf, lp:P, spectral, nuclear (default l2)")
    r.add_argument("--tol", type=float, default=None, help="relative near-tie tolerance (default 1e-6)")
    r.add_argument("--method", default="auto", help="auto, generic, l2-reduced or active-set")
    r.add_argument("--json", metavar="OUT", default=None, help="also write the residuals as JSON to OUT")
    return p


def _kind(f: Path) -> str:
    """File format from its first bytes: 'npy' (NumPy array), 'zip' (.npz or torch.save), 'pickle', 'other'."""
    with open(f, "rb") as fh:
        head = fh.read(6)
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK"):
        return "zip"
    if head[:1] == b"\x80":
        return "pickle"
    return "other"


def _load_model(path: str):
    import torch
    f = Path(path)
    if not f.is_file():
        raise ValueError(f"model file {path!r} does not exist")
    if _kind(f) == "npy":
        raise ValueError(f"MODEL {path!r} is a NumPy .npy array, not a model: save the whole network with "
                         "torch.save(model, path) (the first argument is MODEL.pt, the second DATA.npz)")
    try:
        obj = torch.load(f, weights_only=False, map_location="cpu")
    except Exception as err:  # torch raises many types for a corrupt file
        what = ": it is a plain pickle, not" if _kind(f) == "pickle" else " as"
        raise ValueError(f"cannot read MODEL {path!r}{what} a torch.save'd file ({type(err).__name__}: {err}); save "
                         "the whole network with torch.save(model, path)") from None
    if not isinstance(obj, torch.nn.Module):
        raise ValueError(f"MODEL {path!r} holds a {type(obj).__name__}, not an nn.Module; save the whole model with "
                         "torch.save(model, path) (a state_dict alone does not say how to run the network)")
    return obj


def _load_data(path: str):
    import numpy as np
    f = Path(path)
    if not f.is_file():
        raise ValueError(f"data file {path!r} does not exist")
    kind = _kind(f)
    if kind == "npy":
        raise ValueError(f"DATA {path!r} is a single NumPy array (.npy); the residual needs both X and y: save "
                         "them together with np.savez(path, X=X, y=y)")
    if kind == "pickle":
        raise ValueError(f"DATA {path!r} is a pickle, which is not loaded (unpickling runs arbitrary code); save "
                         "the arrays with np.savez(path, X=X, y=y)")
    try:
        with np.load(f, allow_pickle=False) as z:
            missing = [k for k in ("X", "y") if k not in z.files]
            if missing:
                raise ValueError(f"{path!r} lacks array(s) {missing}; it has {z.files}. Save with "
                                 "np.savez(path, X=X, y=y)")
            return z["X"], z["y"]
    except ValueError:
        raise
    except Exception as err:
        raise ValueError(f"cannot read {path!r} as an .npz file: {type(err).__name__}: {err}") from None


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def cmd_residual(args) -> int:
    from .kkt import residual
    from .subdiff import DEFAULT_TOL
    model = _load_model(args.model)
    X, y = _load_data(args.data)
    res = residual(model, (X, y), norm=args.norm, tol=DEFAULT_TOL if args.tol is None else args.tol,
                   method=args.method)
    print(res)
    if args.json:
        out = {k: _clean(v) for k, v in res.summary().items()}
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"wrote {args.json}")
    return 0 if res.status.startswith("optimal") else 1


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "residual":
            return cmd_residual(args)
    except (ValueError, TypeError) as err:
        print(f"kktcheck {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
