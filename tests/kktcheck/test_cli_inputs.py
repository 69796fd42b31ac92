"""The kktcheck CLI given the wrong kind of file (issue 12, item 5): a .npy or a plain pickle as DATA, a
.npy or a pickled dict as MODEL; each gets one message naming the argument and how to save it instead."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from kktcheck import reference as R
from kktcheck.cli import main


@pytest.fixture
def files(tmp_path):
    p = R.two_layer_dead_neuron()
    torch.save(p.model, tmp_path / "model.pt")
    np.savez(tmp_path / "data.npz", X=p.data[0], y=p.data[1])
    np.save(tmp_path / "X.npy", np.asarray(p.data[0]))
    with open(tmp_path / "data.pkl", "wb") as f:
        pickle.dump({"X": np.asarray(p.data[0]), "y": np.asarray(p.data[1])}, f)
    return tmp_path


def test_cli_data_as_npy(files, capsys):
    assert main(["residual", str(files / "model.pt"), str(files / "X.npy")]) == 2
    err = capsys.readouterr().err
    assert "DATA" in err and "single NumPy array (.npy)" in err and "np.savez(path, X=X, y=y)" in err


def test_cli_data_as_plain_pickle(files, capsys):
    assert main(["residual", str(files / "model.pt"), str(files / "data.pkl")]) == 2
    err = capsys.readouterr().err
    assert "DATA" in err and "pickle" in err and "np.savez(path, X=X, y=y)" in err


def test_cli_model_as_npy(files, capsys):
    assert main(["residual", str(files / "X.npy"), str(files / "data.npz")]) == 2
    err = capsys.readouterr().err
    assert "MODEL" in err and "NumPy .npy" in err and "torch.save(model, path)" in err


def test_cli_model_as_plain_pickle_of_arrays(files, capsys):
    assert main(["residual", str(files / "data.pkl"), str(files / "data.npz")]) == 2
    err = capsys.readouterr().err
    assert "MODEL" in err and "plain pickle" in err and "torch.save(model, path)" in err
