"""Real MNIST files at a path the user gives (no download), as binary tasks like ``digits.py``.

Accepted layouts of ``path``:
* a directory with the IDX files ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (each
  optionally gzipped, ``.gz``), the format of yann.lecun.com/exdb/mnist: big-endian header
  (magic 0x00000803 for images: n, rows, cols; 0x00000801 for labels: n), then uint8 data;
* an ``.npz`` file (or a directory holding ``mnist.npz``) with arrays ``x_train`` (n, 28, 28) or (n, 784)
  and ``y_train`` (n,) integer digits (the keras layout).

``read_mnist(path) -> (X uint8-valued float64 (n, rows*cols), digits int64 (n,))``;
``load_mnist_pair(path, a=3, b=6, n_train=100, seed=0, normalize=True)`` and
``load_mnist_parity(path, ...)`` split like ``digits.load_digits_pair`` (shuffle with default_rng(seed),
first n_train train, rest test, unit-norm inputs). Missing or malformed files raise FileNotFoundError /
ValueError naming the files expected.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .digits import DigitsSplit, _check_digit, binary_split

IMAGES = "train-images-idx3-ubyte"
LABELS = "train-labels-idx1-ubyte"
EXPECTED = (f"a directory with {IMAGES}[.gz] and {LABELS}[.gz] (IDX format), or an .npz file with arrays "
            "x_train (n, 28, 28) and y_train (n,)")


def _find(directory: Path, stem: str) -> Path | None:
    for cand in (directory / stem, directory / (stem + ".gz")):
        if cand.is_file():
            return cand
    return None


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read {path}: {exc}; expected {EXPECTED}") from None
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{path} is too short for an IDX header ({len(raw)} bytes); expected {EXPECTED}")
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        raise ValueError(f"{path}: IDX magic number {got:#010x}, expected {magic:#010x}; expected {EXPECTED}")
    dims = [int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    size = int(np.prod(dims))
    if len(raw) - head != size:
        raise ValueError(f"{path}: header says {dims} = {size} bytes of data, file has {len(raw) - head}; "
                         f"the file is truncated or malformed")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims)


def _read_npz(path: Path):
    try:
        z = np.load(path, allow_pickle=False)
        files = list(z.files)
    except Exception as exc:  # noqa: BLE001 - zipfile/pickle errors -> one clear message
        raise ValueError(f"cannot read {path} as .npz ({type(exc).__name__}: {exc}); expected {EXPECTED}") from None
    with z:
        missing = [k for k in ("x_train", "y_train") if k not in files]
        if missing:
            raise ValueError(f"{path} lacks arrays {missing} (has {files}); expected {EXPECTED}")
        return np.asarray(z["x_train"]), np.asarray(z["y_train"])


def read_mnist(path) -> tuple[np.ndarray, np.ndarray]:
    """Training images (float64, flattened) and digit labels from ``path``; see the module docstring."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"MNIST path {p} does not exist; expected {EXPECTED}")
    if p.is_dir() and (p / "mnist.npz").is_file():
        p = p / "mnist.npz"
    if p.is_file():
        if p.suffix != ".npz":
            raise ValueError(f"{p} is a file but not an .npz; expected {EXPECTED}")
        x, y = _read_npz(p)
    else:
        img, lab = _find(p, IMAGES), _find(p, LABELS)
        if img is None or lab is None:
            missing = [s for s, f in ((IMAGES, img), (LABELS, lab)) if f is None]
            raise FileNotFoundError(f"{p} lacks {', '.join(m + '[.gz]' for m in missing)}; expected {EXPECTED}")
        x, y = _read_idx(img, 0x00000803, 3), _read_idx(lab, 0x00000801, 1)
    if x.ndim not in (2, 3) or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"MNIST arrays have shapes x {x.shape}, y {y.shape}; need x (n, rows, cols) or (n, d) "
                         "and y (n,) with the same n")
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9):
        raise ValueError(f"MNIST labels must be integer digits 0..9, got dtype {y.dtype}")
    return x.reshape(len(x), -1).astype(np.float64), y.astype(np.int64)


def load_mnist_pair(path, a: int = 3, b: int = 6, n_train: int = 100, seed: int = 0,
                    normalize: bool = True) -> DigitsSplit:
    """Digit a (+1) vs digit b (-1) from the MNIST training files at ``path``."""
    a, b = _check_digit("a", a), _check_digit("b", b)
    if a == b:
        raise ValueError(f"a and b must be different digits, got a = b = {a}")
    X, t = read_mnist(path)
    keep = (t == a) | (t == b)
    if not keep.any():
        raise ValueError(f"no images of digits {a} or {b} in {path}")
    return binary_split(X[keep], t[keep], (a,), n_train, seed, normalize, f"MNIST {a} vs {b}")


def load_mnist_parity(path, n_train: int = 100, seed: int = 0, normalize: bool = True) -> DigitsSplit:
    """Even digits (+1) vs odd digits (-1) from the MNIST training files at ``path``."""
    X, t = read_mnist(path)
    return binary_split(X, t, (0, 2, 4, 6, 8), n_train, seed, normalize, "MNIST even vs odd")


__all__ = ["read_mnist", "load_mnist_pair", "load_mnist_parity", "IMAGES", "LABELS"]
