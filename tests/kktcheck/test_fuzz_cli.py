"""Fuzzing the ``kktcheck`` command line in-process (issue 12, fuzzing): every combination of a good or bad
MODEL, DATA and option gives exit code 0/1 when all are good, else exit code 2 with one line
``kktcheck residual: error: ...`` naming one of the bad arguments; never a traceback or another exception."""
from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import example, given, strategies as st

from kktcheck import reference as R
from kktcheck.cli import main

# kind -> the words the error message must contain (None: a good input)
MODELS = {"good": None, "missing": "does not exist", "directory": "is a directory", "npy": "NumPy .npy",
          "pickle": "plain pickle", "state_dict": "not an nn.Module", "text": "cannot read MODEL",
          "empty": "cannot read MODEL", "biased": "bias", "meta": "'meta' device"}
DATA = {"good": None, "missing": "does not exist", "directory": "is a directory", "npy": "single NumPy array",
        "pickle": "is a pickle", "json": "not an .npz file", "no_y": "lacks array(s) ['y']",
        "object": "numeric arrays, not Python objects", "nan": "X contains NaN or inf", "complex": "X is complex",
        "empty": "X is empty", "labels": "labels must be -1 or +1", "shape": "shape mismatch"}
NORMS = {"l2": None, "linf": None, "l1": None, "bogus": "unknown norm 'bogus'", "lp:0.5": "p >= 1"}
TOLS = {None: None, "1e-6": None, "nan": "tol must be finite", "-1": "tol must lie in", "abc": "argument --tol"}
TIME_LIMITS = {None: None, "30": None, "0": "time_limit must be a positive", "nan": "time_limit must be finite",
               "-5": "time_limit must be a positive", "1e999": "time_limit must be finite"}
JSONS = {None: None, "out.json": None, "": "--json needs a file name", "dir": "is a directory",
         "nodir/x.json": "does not exist", "afile/x.json": "does not exist"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_fuzz")
    p = R.two_layer_dead_neuron()
    X, y = np.asarray(p.data[0], dtype=float), np.asarray(p.data[1], dtype=float)
    torch.save(p.model, d / "good.pt")
    torch.save(p.model.state_dict(), d / "state_dict.pt")
    torch.save(torch.nn.Linear(X.shape[1], 1), d / "biased.pt")
    torch.save(torch.nn.Linear(X.shape[1], 1, bias=False).to("meta"), d / "meta.pt")
    np.save(d / "npy.npy", X)
    with open(d / "pickle.pkl", "wb") as f:
        pickle.dump({"X": X, "y": y}, f)
    (d / "text.pt").write_text("not a torch file")
    (d / "empty.pt").write_bytes(b"")
    (d / "json.json").write_text(json.dumps({"X": X.tolist(), "y": y.tolist()}))
    (d / "directory").mkdir()
    (d / "dir").mkdir()
    (d / "afile").write_text("a file, not a directory")
    np.savez(d / "good.npz", X=X, y=y)
    np.savez(d / "no_y.npz", X=X)
    np.savez(d / "object.npz", X=np.array([None, 1.0], dtype=object), y=y)
    np.savez(d / "nan.npz", X=np.where(np.arange(X.size).reshape(X.shape) == 0, np.nan, X), y=y)
    np.savez(d / "complex.npz", X=X + 1j, y=y)
    np.savez(d / "empty.npz", X=np.zeros((0, X.shape[1])), y=np.zeros(0))
    np.savez(d / "labels.npz", X=X, y=3 * y)
    np.savez(d / "shape.npz", X=X, y=np.ones(len(y) + 3))
    return d


MODEL_PATH = {"good": "good.pt", "missing": "nope.pt", "directory": "directory", "npy": "npy.npy",
              "pickle": "pickle.pkl", "state_dict": "state_dict.pt", "text": "text.pt", "empty": "empty.pt",
              "biased": "biased.pt", "meta": "meta.pt"}
DATA_PATH = {"good": "good.npz", "missing": "nope.npz", "directory": "directory", "npy": "npy.npy",
             "pickle": "pickle.pkl", "json": "json.json", **{k: f"{k}.npz" for k in
                                                            ("no_y", "object", "nan", "complex", "empty", "labels",
                                                             "shape")}}


@given(model=st.sampled_from(sorted(MODELS)), data=st.sampled_from(sorted(DATA)),
       norm=st.sampled_from(sorted(NORMS)), tol=st.sampled_from(list(TOLS)),
       time_limit=st.sampled_from(list(TIME_LIMITS)), out=st.sampled_from(list(JSONS)))
@example(model="good", data="good", norm="l2", tol=None, time_limit=None, out="out.json")
@example(model="good", data="good", norm="linf", tol="1e-6", time_limit="30", out=None)
@example(model="good", data="object", norm="l2", tol=None, time_limit=None, out=None)
@example(model="good", data="good", norm="l2", tol=None, time_limit=None, out="")
@example(model="directory", data="json", norm="l2", tol=None, time_limit=None, out=None)
def test_kktcheck_cli_fuzz(files, run_cli, model, data, norm, tol, time_limit, out):
    argv = ["residual", str(files / MODEL_PATH[model]), str(files / DATA_PATH[data]), "--norm", norm]
    argv += [] if tol is None else ["--tol", tol]
    argv += [] if time_limit is None else ["--time-limit", time_limit]
    argv += [] if out is None else ["--json", str(files / out) if out else ""]
    expected = [e for e in (MODELS[model], DATA[data], NORMS[norm], TOLS[tol], TIME_LIMITS[time_limit],
                            JSONS[out]) if e is not None]
    code, err = run_cli(main, argv)                # argparse errors: usage, then one error line, exit code 2
    assert "Traceback" not in err
    if not expected:
        assert code in (0, 1), err
        if out is not None:
            assert math.isfinite(json.loads((files / out).read_text())["measure"])
        return
    assert code == 2, f"{argv}: exit code {code}, expected 2 naming one of {expected}"
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith("kktcheck residual: error: ") and any(e in last for e in expected), (argv, last)
    assert not err.startswith("kktcheck residual: error: ") or len(err.strip().splitlines()) == 1, err


def test_ctrl_c_is_one_line_and_exit_130(files, capsys, monkeypatch):
    import kktcheck.cli as cli

    def interrupt(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "cmd_residual", interrupt)
    assert cli.main(["residual", str(files / "good.pt"), str(files / "good.npz")]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "kktcheck residual: interrupted (Ctrl-C); nothing was written"
