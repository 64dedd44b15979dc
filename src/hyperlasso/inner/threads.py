"""Run BLAS single-threaded inside the solvers.

The solvers' BLAS calls are matrix-vector products and small factorizations,
memory-bound or too small to gain from threads, interleaved with single-threaded
numba kernels. OpenBLAS's threads then only cost: measured here with the other
core busy, a 500 x 20000 Lasso took 0.53 s with 2 BLAS threads and 0.085 s with
one (and a 231 x 231 Cholesky from 0.5 ms to 75 ms, at random). Folds running in
parallel threads would make it worse.
"""

from __future__ import annotations

import functools


@functools.cache
def _controller():
    # Created on first use, once numpy's and scipy's BLAS libraries are loaded.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas():
    """Context manager (also a decorator) limiting BLAS to one thread."""
    return _controller().limit(limits=1, user_api="blas")
