"""skelmae.train.host_memory: a freed activation-sized tensor leaves the process's RSS."""

import platform
import subprocess
import sys

import pytest

# In a fresh interpreter (the setting is process-wide): free a 24 MB tensor (glibc's dynamic threshold
# then serves anything smaller from the heap), then touch and free a 16 MB one; print the RSS it leaves.
PROBE = """
import os, sys
import torch
from skelmae.train.host_memory import return_freed_tensors_to_os
if sys.argv[1] == "on":
    assert return_freed_tensors_to_os()
def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
big = torch.ones(6 << 20); del big
before = rss_mb()
t = torch.ones(4 << 20); del t
print(rss_mb() - before)
"""


def _left_mb(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_tensor_memory_goes_back_to_the_os():
    assert _left_mb("off") > 12  # glibc's default heap keeps the freed 16 MB resident
    assert _left_mb("on") < 4
