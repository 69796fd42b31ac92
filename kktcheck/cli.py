"""Command line: ``kktcheck residual MODEL.pt DATA.npz [--norm linf] [--json OUT]``.

MODEL.pt is a whole ``torch.nn.Module`` saved with ``torch.save(model, path)``. Loading it runs
``torch.load(path, weights_only=False)``, which unpickles arbitrary Python objects: only load files you
trust. DATA.npz holds arrays ``X`` (n, d, ...) and ``y`` (n,) with labels in {-1, +1}.
The first printed line is the verdict ("approximately KKT: ...", "not KKT: ...", "could not decide: ...").
Exit codes: 0 a verdict was reached (approximately KKT or not KKT), 1 could not decide (problem too large,
time limit, solver failure), 2 bad input (checked before any computation, including an unwritable --json; one
line "kktcheck residual: error: ..." naming the argument), 130 interrupted by Ctrl-C (nothing written).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kktcheck", description="Certificates for the max-margin problem (MM) "
                                "of homogeneous networks.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("residual", help="approximate-KKT residuals of (MM) at a trained model",
                       description="Rescale the model to theta / q_min^(1/L) and print a verdict on the KKT "
                       "measure (Fenchel-Young gap of the best multipliers, continuous in theta, 0 exactly at KKT "
                       "points), the multipliers' summary, and the named (eps, delta) residuals beside it.")
    r.add_argument("model", help="MODEL.pt: a torch.save'd bias-free nn.Module (loaded with weights_only=False: "
                   "trusted files only)")
    r.add_argument("data", help="DATA.npz with arrays X and y (y in {-1, +1})")
    r.add_argument("--norm", default="l2", help="algorithm norm: l2, l1, linf, lp:P, spectral, nuclear (default l2)")
    r.add_argument("--tol", type=float, default=None, help="relative near-tie tolerance of the (eps, delta) pair "
                   "(default 1e-6)")
    r.add_argument("--verdict-tol", type=float, default=None, help="tolerance on the KKT measure for the verdict "
                   "(default 1e-3)")
    r.add_argument("--clarke-radius", type=float, default=None, help="relative radius of the two-layer ReLU "
                   "Clarke band (default 1e-3)")
    r.add_argument("--time-limit", type=float, default=None, help="seconds for all solves together")
    r.add_argument("--method", default="auto", help="auto, generic, l2-reduced, active-set, compressed (spectral) "
                   "or first-order (spectral without an SDP)")
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


def _existing_file(path: str, what: str) -> Path:
    """``path`` as a Path to a regular file, or a ValueError naming ``what`` (MODEL or DATA)."""
    f = Path(path)
    if f.is_dir():
        raise ValueError(f"{what} {path!r} is a directory, not a file")
    if not f.is_file():
        raise ValueError(f"{what} file {path!r} does not exist")
    return f


def _load_model(path: str):
    import torch
    f = _existing_file(path, "MODEL")
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
    f = _existing_file(path, "DATA")
    kind = _kind(f)
    if kind == "npy":
        raise ValueError(f"DATA {path!r} is a single NumPy array (.npy); the residual needs both X and y: save "
                         "them together with np.savez(path, X=X, y=y)")
    if kind == "pickle":
        raise ValueError(f"DATA {path!r} is a pickle, which is not loaded (unpickling runs arbitrary code); save "
                         "the arrays with np.savez(path, X=X, y=y)")
    if kind != "zip":
        raise ValueError(f"DATA {path!r} is not an .npz file (it does not start like a zip archive); save the "
                         "arrays with np.savez(path, X=X, y=y)")
    try:
        with np.load(f, allow_pickle=False) as z:
            names = list(z.files)
            arrays = {k: z[k] for k in ("X", "y") if k in names}
    except Exception as err:
        hint = "X and y must be numeric arrays, not Python objects; " if "allow_pickle" in str(err) else ""
        raise ValueError(f"cannot read DATA {path!r} as an .npz file ({type(err).__name__}: {err}); {hint}save the "
                         "arrays with np.savez(path, X=X, y=y)") from None
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise ValueError(f"DATA {path!r} lacks array(s) {missing}; it has {names}. Save with "
                         "np.savez(path, X=X, y=y)")
    return arrays["X"], arrays["y"]


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _check_out(path: str) -> None:
    """Fail before any computation when --json cannot be written."""
    if not path.strip():
        raise ValueError("--json needs a file name, got an empty string")
    f = Path(path)
    if f.is_dir():
        raise ValueError(f"--json {path!r} is a directory")
    parent = f.parent if str(f.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"--json {path!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK) or (f.exists() and not os.access(f, os.W_OK)):
        raise ValueError(f"--json {path!r} is not writable")


def cmd_residual(args) -> int:
    from .kkt import residual
    from .kkt.report import render
    from .kkt.checks import DEFAULT_RADIUS, DEFAULT_VERDICT_TOL, check_tol
    from .subdiff import DEFAULT_TOL
    if args.json is not None:
        _check_out(args.json)
    vtol = DEFAULT_VERDICT_TOL if args.verdict_tol is None else check_tol("--verdict-tol", args.verdict_tol, 0.0, 0.5)
    model = _load_model(args.model)
    X, y = _load_data(args.data)
    res = residual(model, (X, y), norm=args.norm, tol=DEFAULT_TOL if args.tol is None else args.tol,
                   method=args.method, time_limit=args.time_limit,
                   clarke_radius=DEFAULT_RADIUS if args.clarke_radius is None else args.clarke_radius)
    print(render(res, vtol))
    if args.json is not None:
        out = {k: _clean(v) for k, v in res.summary().items()}
        out["verdict"], out["verdict_tol"] = res.verdict(vtol), vtol
        try:
            Path(args.json).write_text(json.dumps(out, indent=2))
        except OSError as err:
            raise ValueError(f"cannot write --json {args.json!r}: {err.strerror or err}") from None
        print(f"wrote {args.json}")
    return 1 if res.verdict(vtol).startswith("could not decide") else 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "residual":
            return cmd_residual(args)
    except (ValueError, TypeError) as err:
        print(f"kktcheck {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kktcheck {args.command}: interrupted (Ctrl-C); nothing was written", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
