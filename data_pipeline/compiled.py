"""Loops compiled by numba, for the per-file hot spots numpy needs many passes for (the `.skeleton`
scan, the bit-exact float32 variance of denoising).

numba is imported, and a loop's machine code loaded from numba's on-disk cache (compiled and cached
the first time, ~2 s), only when the loop is first called: ~1.2 s for the first loop of a process, so
processes that never read a file (a job's driver, training) do not pay it, and a preprocessing job's
workers pay it while its driver plans (data_pipeline.pipeline). Without fastmath numba keeps IEEE
order: a compiled float32 sum gives the same bits as numpy's sequential one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


def compiled(fn: Callable) -> Callable:
    """`fn` compiled by numba (nopython, cached on disk) at its first call. `.load()` only makes numba's
    dispatcher: the machine code for the arguments' types is compiled or read from the cache at the
    first call."""

    @functools.cache
    def load():
        import numba

        try:
            return numba.njit(cache=True)(fn)
        except RuntimeError:  # no writable cache folder (numba: "no locator available"): compile each process
            return numba.njit(fn)

    @functools.wraps(fn)
    def call(*args):
        return load()(*args)

    call.load = load
    return call
