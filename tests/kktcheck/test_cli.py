"""The kktcheck console script: residual on saved files, JSON output, clear errors."""
import json

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
    return tmp_path


def test_residual_prints_named_residuals_and_json(files, capsys):
    out = files / "res.json"
    assert main(["residual", str(files / "model.pt"), str(files / "data.npz"), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for name in ("stationarity", "complementarity", "primal_feasibility", "dual_feasibility"):
        assert name in text
    d = json.loads(out.read_text())
    assert d["status"] == "optimal" and d["stationarity_rel"] <= 1e-7
    np.testing.assert_allclose(d["multipliers"], [1.0, 1.0], atol=1e-7)


def test_norm_option(files, capsys):
    assert main(["residual", str(files / "model.pt"), str(files / "data.npz"), "--norm", "linf"]) == 0
    assert "norm linf" in capsys.readouterr().out


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["residual", "--help"])
    assert e.value.code == 0
    assert "weights_only=False" in capsys.readouterr().out


def test_missing_and_malformed_files(files, capsys):
    assert main(["residual", str(files / "nope.pt"), str(files / "data.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (files / "bad.pt").write_text("not a torch file")
    assert main(["residual", str(files / "bad.pt"), str(files / "data.npz")]) == 2
    assert "cannot read" in capsys.readouterr().err
    np.savez(files / "noy.npz", X=np.eye(2))
    assert main(["residual", str(files / "model.pt"), str(files / "noy.npz")]) == 2
    assert "lacks" in capsys.readouterr().err
    torch.save({"w": torch.zeros(2)}, files / "sd.pt")
    assert main(["residual", str(files / "sd.pt"), str(files / "data.npz")]) == 2
    assert "not an nn.Module" in capsys.readouterr().err


def test_misclassified_data_is_reported(files, capsys):
    np.savez(files / "flip.npz", X=np.eye(2), y=np.array([1.0, -1.0]))
    assert main(["residual", str(files / "model.pt"), str(files / "flip.npz")]) == 2
    assert "1 of 2 points are misclassified" in capsys.readouterr().err
