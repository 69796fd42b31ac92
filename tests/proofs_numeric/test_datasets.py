"""Digits and MNIST loaders: shapes, labels, unit norms, determinism, and clear errors on bad files."""
import gzip

import numpy as np
import pytest
import torch

from proofs_numeric.datasets.digits import load_digits_pair, load_digits_parity
from proofs_numeric.datasets.mnist import load_mnist_pair, load_mnist_parity, read_mnist

EPS = np.finfo(np.float64).eps


def test_digits_pair_shapes_labels_norms():
    ds = load_digits_pair(3, 6, n_train=100, seed=1)
    assert ds.X_train.shape == (100, 64) and ds.X_train.dtype == torch.float64
    assert set(ds.y_train.tolist()) == {-1.0, 1.0}
    assert set(ds.digits_train.tolist()) <= {3, 6}
    assert np.all((ds.y_train.numpy() > 0) == (ds.digits_train == 3))
    n_all = 183 + 181  # images of 3 and 6 in sklearn's digits
    assert ds.X_train.shape[0] + ds.X_test.shape[0] == n_all
    norms = torch.linalg.norm(torch.cat([ds.X_train, ds.X_test]), dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=64 * EPS, rtol=0)


def test_digits_deterministic_and_seed_dependent():
    a, b, c = (load_digits_pair(2, 7, 50, seed=s) for s in (0, 0, 1))
    assert torch.equal(a.X_train, b.X_train)
    assert not torch.equal(a.X_train, c.X_train)


def test_digits_parity_and_unnormalized():
    ds = load_digits_parity(n_train=100, seed=0, normalize=False)
    assert np.all((ds.y_train.numpy() > 0) == (ds.digits_train % 2 == 0))
    assert float(ds.X_train.max()) == 16.0   # raw pixel intensities 0..16
    assert ds.X_train.shape[0] + ds.X_test.shape[0] == 1797


@pytest.mark.parametrize("kw, msg", [(dict(a=3, b=3), "different"), (dict(a=11), "digit"),
                                     (dict(n_train=0), "positive"), (dict(n_train=10_000), "no test points")])
def test_digits_bad_input(kw, msg):
    with pytest.raises(ValueError, match=msg):
        load_digits_pair(**kw)


def _idx_bytes(arr, magic):
    head = magic.to_bytes(4, "big") + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def _fake(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28)), np.arange(n) % 10


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_roundtrip(tmp_path, gz):
    x, y = _fake()
    for stem, arr, magic in (("train-images-idx3-ubyte", x, 0x803), ("train-labels-idx1-ubyte", y, 0x801)):
        data = _idx_bytes(arr, magic)
        if gz:
            with gzip.open(tmp_path / (stem + ".gz"), "wb") as fh:
                fh.write(data)
        else:
            (tmp_path / stem).write_bytes(data)
    X, d = read_mnist(tmp_path)
    assert X.shape == (40, 784) and np.array_equal(d, y) and np.array_equal(X, x.reshape(40, -1))
    ds = load_mnist_pair(tmp_path, 3, 6, n_train=5, seed=0)
    assert set(ds.digits_train.tolist()) | set(ds.digits_test.tolist()) == {3, 6}
    assert ds.X_train.shape == (5, 784)


def test_mnist_npz(tmp_path):
    x, y = _fake(30)
    np.savez(tmp_path / "m.npz", x_train=x, y_train=y)
    ds = load_mnist_parity(tmp_path / "m.npz", n_train=10, seed=0)
    assert ds.X_train.shape == (10, 784)
    assert np.all((ds.y_train.numpy() > 0) == (ds.digits_train % 2 == 0))


def test_mnist_missing_and_malformed(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        read_mnist(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        read_mnist(tmp_path)
    x, y = _fake(10)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx_bytes(x, 0x803)[:-7])   # truncated
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(y, 0x801))
    with pytest.raises(ValueError, match="truncated"):
        read_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx_bytes(x, 0x801))        # wrong magic
    with pytest.raises(ValueError, match="magic"):
        read_mnist(tmp_path)
    np.savez(tmp_path / "bad.npz", images=x)
    with pytest.raises(ValueError, match="x_train"):
        read_mnist(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="x_train"):
        read_mnist(tmp_path / "junk.npz")
