"""data_pipeline.compiled: numba loops loaded on first use, and still compiled where numba cannot cache."""

from __future__ import annotations

import subprocess
import sys

import numba
import numpy as np

from data_pipeline.compiled import compiled


def _sum_twice(x):  # pragma: no cover - compiled
    total = 0.0
    for v in x:
        total += 2.0 * v
    return total


def test_a_loop_compiles_on_first_call_and_gives_its_result():
    f = compiled(_sum_twice)
    assert f.load.cache_info().currsize == 0  # nothing compiled yet
    assert f(np.arange(4.0)) == 12.0
    assert isinstance(f.load(), numba.core.registry.CPUDispatcher)


def test_without_a_cache_folder_it_still_compiles(monkeypatch):
    real = numba.njit

    def njit(*args, **kw):
        if kw.get("cache"):
            raise RuntimeError("cannot cache function '_sum_twice': no locator available for file")
        return real(*args, **kw)

    monkeypatch.setattr(numba, "njit", njit)
    assert compiled(_sum_twice)(np.ones(3)) == 6.0


def test_importing_the_reader_does_not_import_numba():
    """A job's driver and training processes import the reader's modules but never read a file."""
    code = "import sys, data_pipeline.pipeline, data_pipeline.process; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_preprocess_warm_up_loads_the_machine_code_real_files_use():
    """The job's warm-up task (data_pipeline.pipeline) must leave each loop compiled for the argument
    types a real file gives it, or the first map task pays the loading after all."""
    code = """
import numpy as np
from data_pipeline import denoise, fast_decimal, pipeline
from data_pipeline.process import PreprocessConfig, process_sequence
from data_pipeline.skeleton_format import parse_skeleton_text
from data_pipeline.synthetic import generate_sample
pipeline._load_reader()
loops = (fast_decimal.scan.load(), denoise._column_variances.load())
before = [len(f.signatures) for f in loops]
from data_pipeline.skeleton_format import format_skeleton
name, seq = generate_sample(0, 0)
process_sequence(parse_skeleton_text(format_skeleton(seq)), None, PreprocessConfig())
print(before, [len(f.signatures) for f in loops])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[1, 1] [1, 1]"
