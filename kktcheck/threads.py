"""One thread for small dense linear algebra: ``single_threaded()``.

The matrices of a KKT program or a late-phase step are small (tens to hundreds of rows). On a shared
machine, a second BLAS or OpenMP thread that has to wait for a core makes them far slower instead of faster:
measured on the 2-core machine at load average 6-10, a 40 x 3100 Gram matrix took 13 ms with OpenBLAS's
two threads and 1.0 ms with one; a 400 x 400 Cholesky 1.0 s instead of 4 ms; a 100 x 256 SVD 1.9 s instead of
8 ms; torch's nuclear norm of a 100 x 500 matrix 2.2 s with 2 threads and 3.4 ms with one.

``single_threaded()`` limits, for the duration of the ``with`` block, the BLAS and OpenMP pools of the
libraries already loaded (numpy's OpenBLAS, torch's, through threadpoolctl) and torch's intra-op threads
to one, and restores them afterwards.
"""
from __future__ import annotations

import contextlib


@contextlib.contextmanager
def single_threaded():
    """Context: one BLAS/OpenMP thread and one torch intra-op thread inside, the previous settings after."""
    from threadpoolctl import threadpool_limits
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)


__all__ = ["single_threaded"]
