"""Writing synthetic `.skeleton` files: one sample per index, optionally on several processes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from data_pipeline.skeleton_format import write_skeleton
from data_pipeline.synthetic.actions import SYNTHETIC_ACTIONS, check_actions
from data_pipeline.synthetic.sample import generate_sample


def _write_one(args: tuple[str, int, int, tuple[int, ...]]) -> str:
    out_dir, index, seed, actions = args
    name, seq = generate_sample(index, seed, actions)
    path = os.path.join(out_dir, name)
    write_skeleton(path, seq)
    return path


def generate_dataset(
    out_dir: str,
    num_samples: int,
    seed: int = 0,
    actions: Sequence[int] = SYNTHETIC_ACTIONS,
    workers: int = 1,
) -> list[str]:
    """Write `num_samples` synthetic `.skeleton` files into `out_dir`; returns their paths in index order.

    Samples cycle through `actions`, alternating NTU60 training/test subjects and the three cameras,
    so 6 * len(actions) samples cover every (class, subject group, camera) combination.
    """
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    actions = check_actions(actions)
    os.makedirs(out_dir, exist_ok=True)
    jobs = [(out_dir, i, seed, actions) for i in range(num_samples)]
    if workers > 1 and num_samples > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_write_one, jobs, chunksize=16))
    return [_write_one(j) for j in jobs]
