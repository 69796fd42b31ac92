"""kktcheck.single_threaded: one torch and one BLAS thread inside, the previous settings after."""
import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

import kktcheck as kc


def _blas_threads():
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_single_threaded_limits_inside_and_restores_after():
    np.ones(2) @ np.ones(2)                      # numpy's BLAS is loaded
    torch_before, blas_before = torch.get_num_threads(), _blas_threads()
    with kc.single_threaded():
        assert torch.get_num_threads() == 1 and all(n == 1 for n in _blas_threads())
    assert torch.get_num_threads() == torch_before and _blas_threads() == blas_before
