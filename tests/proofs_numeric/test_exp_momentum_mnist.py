"""momentum_margins on MNIST even vs odd at a user path (a tiny fake MNIST in the IDX layout of datasets.mnist):
the experiment trains on those files, and a missing path or a misplaced option is a clear error."""
from __future__ import annotations

import numpy as np
import pytest

from proofs_numeric.cli import main
from proofs_numeric.experiments import momentum_margins as M
from proofs_numeric.experiments import run_experiment

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = dict(steps=20, n_train=16, width=4, n_records=5, kkt=False, progress=False)


def _fake_mnist(directory, n=30, seed=0):
    """IDX files train-images-idx3-ubyte / train-labels-idx1-ubyte with n random 28x28 images, digits i % 10."""
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 256, size=(n, 28, 28)), np.arange(n) % 10
    for stem, arr, magic in (("train-images-idx3-ubyte", x, 0x803), ("train-labels-idx1-ubyte", y, 0x801)):
        head = magic.to_bytes(4, "big") + b"".join(int(k).to_bytes(4, "big") for k in arr.shape)
        (directory / stem).write_bytes(head + arr.astype(np.uint8).tobytes())
    return x, y


def test_momentum_margins_trains_on_the_mnist_files(tmp_path):
    data = tmp_path / "mnist"
    data.mkdir()
    _fake_mnist(data)
    res = M.run(tmp_path / "out", seeds=[0], dataset="mnist", data_path=data, **TINY)
    assert "MNIST even vs odd" in res.case.text() and "d=784" in res.case.text()
    runs = M.seed_runs(0, dict(M.DEFAULTS, **{k: v for k, v in TINY.items() if k in M.DEFAULTS},
                               **M.check_dataset("mnist", data)), tmp_path / "out" / "cache")[2]
    W, a = runs["NGD"].params
    assert W.shape == (4, 784) and a.shape == (4,)             # trained on the 784-pixel images, not digits' 64


def test_missing_mnist_path_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        M.run(tmp_path / "out", seeds=[0], dataset="mnist", data_path=tmp_path / "nowhere", **TINY)
    assert not (tmp_path / "out").exists()                         # refused before any training or output
    with pytest.raises(ValueError, match="needs data_path"):
        M.run(tmp_path / "out", dataset="mnist", **TINY)
    with pytest.raises(ValueError, match="dataset must be one of"):
        M.run(tmp_path / "out", dataset="cifar", **TINY)
    with pytest.raises(ValueError, match="only used with dataset='mnist'"):
        M.run(tmp_path / "out", data_path=tmp_path, **TINY)
    code = main(["experiment", "momentum_margins", "--dataset", "mnist", "--data-path", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "cli"), "--no-progress"])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_dataset_option_is_refused_by_experiments_without_it(tmp_path, capsys):
    with pytest.raises(ValueError, match="takes no option"):
        run_experiment("teacher_student", tmp_path / "t", data_path=tmp_path)
    code = main(["experiment", "adam_vs_sign", "--dataset", "mnist", "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 2 and "takes no option" in capsys.readouterr().err
