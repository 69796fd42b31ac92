"""Teacher-student data (y = sign(sum_j a*_j relu(<w*_j, x>)), sparse teacher, our default sizes): reproducible, sparse teacher, fresh test points."""
import pytest
import torch

from proofs_numeric.datasets import teacher_student
from proofs_numeric.datasets.teacher_student import N_TEST, teacher_labels, teacher_output


def test_defaults_shapes_and_teacher_structure():
    ds = teacher_student(seed=3)
    X, y, W, a = ds
    assert X.shape == (40, 30) and y.shape == (40,) and W.shape == (3, 30) and a.shape == (3,)
    assert X.dtype == y.dtype == W.dtype == torch.float64
    assert ((W != 0).sum(1) == 3).all()                      # exactly 3 active coordinates per teacher neuron
    assert a.tolist() == [1.0, -1.0, 1.0]
    assert set(y.tolist()) <= {-1.0, 1.0}


def test_labels_are_sign_of_teacher_with_sign0_plus1():
    ds = teacher_student(seed=1)
    f = teacher_output(ds.W_star, ds.a_star, ds.X)
    assert torch.equal(ds.y, torch.where(f >= 0, 1.0, -1.0).double())
    Z = torch.zeros(2, 30, dtype=torch.float64)                 # f* = 0 exactly -> +1
    assert teacher_labels(ds.W_star, ds.a_star, Z).tolist() == [1.0, 1.0]


def test_same_seed_same_numbers_other_seed_differs():
    a, b, c = teacher_student(seed=5), teacher_student(seed=5), teacher_student(seed=6)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a.X, c.X) and not torch.equal(a.W_star, c.W_star)


def test_fresh_test_points_same_teacher():
    ds = teacher_student(seed=2)
    Xt, yt = ds.test_set()
    assert Xt.shape == (N_TEST, 30) and N_TEST == 20_000
    assert torch.equal(yt, teacher_labels(ds.W_star, ds.a_star, Xt))
    assert torch.equal(Xt, ds.test_set()[0])                    # reproducible
    assert not torch.equal(Xt[:40], ds.X)                       # not the training draw
    assert not torch.equal(ds.test_set(100, seed=1)[0], ds.test_set(100)[0])
    assert 0.2 < float((yt > 0).double().mean()) < 0.9          # both labels occur


def test_late_phase_benchmark_call_keeps_working():
    X, y, _, _ = teacher_student(50, 64, k_star=3, active=3, seed=0)
    assert X.shape == (64, 50) and y.shape == (64,)


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(d=2, active=3), ValueError, "d >= active"),
    (dict(n=0), ValueError, "n must be >= 1"),
    (dict(k_star=0), ValueError, "k_star"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(d=30.5), TypeError, "d must be an integer"),
    (dict(seed=True), TypeError, "seed must be an integer"),
])
def test_invalid_arguments(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        teacher_student(**kwargs)


def test_invalid_test_size():
    with pytest.raises(ValueError, match="n_test"):
        teacher_student().test_set(0)
