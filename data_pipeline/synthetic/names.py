"""Which file name each synthetic sample index gets: action, subject group, camera and a seeded,
unique (setup, subject, replication) slot that the NTU authors do not list as missing."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from data_pipeline.ntu import NTU60_SETUPS, NTU60_XSUB_TEST_SUBJECTS, NTU60_XSUB_TRAIN_SUBJECTS, load_missing
from data_pipeline.synthetic.actions import SYNTHETIC_ACTIONS, check_actions

# One name slot per (setup, subject of the group, replication) in each (action, group, camera) cell.
_SLOTS_PER_CELL = len(NTU60_SETUPS) * len(NTU60_XSUB_TRAIN_SUBJECTS) * 2


@functools.cache
def _missing_sample_ids() -> frozenset[str]:
    """Names the NTU authors list as missing skeletons: the pipeline skips them, so never use them."""
    return frozenset(load_missing("ntu60") | load_missing("ntu120"))


def slot_fields(seed: int, index: int, actions: Sequence[int]) -> tuple[int, int, int, int, int]:
    """(setup, camera, subject, replication, action) of sample `index`, unique across indices."""
    n = len(actions)
    action = actions[index % n]
    k = index // n  # how many samples of this action came before
    group = k % 2  # alternate training / test subjects so every class has both
    camera = 1 + (k // 2) % 3
    m = k // 6
    subjects = NTU60_XSUB_TRAIN_SUBJECTS if group == 0 else NTU60_XSUB_TEST_SUBJECTS
    # A seeded order of this (action, group, camera) cell's name slots; sample m takes the m-th.
    perm = np.random.default_rng([seed, 2, action, group, camera]).permutation(_SLOTS_PER_CELL)
    missing = _missing_sample_ids()
    for slot in perm.tolist():
        setup, rest = divmod(slot, 2 * len(subjects))
        fields = (setup + 1, camera, subjects[rest // 2], rest % 2 + 1, action)
        if "S{:03d}C{:03d}P{:03d}R{:03d}A{:03d}".format(*fields) in missing:
            continue
        if m == 0:
            return fields
        m -= 1
    raise ValueError(f"sample index {index} too large: each (action, subject group, camera) cell has at "
                     f"most {_SLOTS_PER_CELL} unique names, i.e. about {6 * _SLOTS_PER_CELL * n} samples")


def sample_file_name(index: int, seed: int = 0, actions: Sequence[int] = SYNTHETIC_ACTIONS) -> str:
    """The `.skeleton` file name of synthetic sample `index` (that generate_sample gives it), unique across
    indices, without generating the sample."""
    fields = slot_fields(seed, index, check_actions(actions))
    return "S{:03d}C{:03d}P{:03d}R{:03d}A{:03d}.skeleton".format(*fields)
