"""glibc's malloc settings for a long-running worker process, and the policy of the preprocessing workers.

Why: each file's arrays are ~0.1-2 MB. glibc's malloc serves blocks that size with mmap and unmaps
them on free (or trims the heap's top), so every file's arrays start as fresh zeroed pages: a page
fault per 4 KB, ~18% of a file's CPU in preprocessing (measured on realistic 700 KB files, one
process). With higher mmap and trim thresholds the freed blocks stay in the heap and are reused.
The cost is that a worker keeps up to _TRIM bytes it no longer uses. Without glibc: nothing changes.
(Training workers want the opposite for their much larger tensors: skelmae.train.host_memory.)
"""

from __future__ import annotations

import ctypes
import platform

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
_MMAP = 32 << 20  # glibc's largest allowed mmap threshold: blocks under it come from the heap
_TRIM = 256 << 20  # free memory at the heap's top kept up to this much

_tuned = False


def mallopt(option: int, value: int) -> bool:
    """glibc's mallopt for this process; False where it is not glibc or refused the setting."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    fn = ctypes.CDLL(None).mallopt
    fn.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(fn(option, value))


def keep_freed_memory() -> None:
    """Raise this process's malloc mmap and trim thresholds (once; a no-op without glibc)."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    mallopt(M_MMAP_THRESHOLD, _MMAP)
    mallopt(M_TRIM_THRESHOLD, _TRIM)
