"""NTU RGB+D facts, defined once: the sample layout, the releases' ID ranges, the official split ID
lists, classes per release and the authors' missing-skeleton lists.

NTU60 (setups 1-17, actions 1-60): cross-subject trains on the official subject list, cross-view
trains on cameras 2 and 3. NTU120 (setups 1-32, actions 1-120): cross-subject trains on its own
subject list, cross-setup trains on even setup IDs. The train/test ID lists are kept in the order
the standard preprocessing scripts loop over them, because exported arrays follow that order.
The split rules built on these lists live in `data_pipeline.splits`.

The model (`skelmae/model`) may not import this package; its presets repeat the layout
(`num_persons`, `num_joints`, `in_chans`) and a test holds them equal to the one here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

# One processed sample is [T, MAX_BODIES, NUM_JOINTS, NUM_COORDS] float32 camera coordinates (metres).
NUM_JOINTS = 25  # a Kinect v2 body
MAX_BODIES = 2  # the two main actors; the second slot is zeros when one acts
NUM_COORDS = 3  # x, y, z
SAMPLE_LAYOUT: tuple[int, int, int] = (MAX_BODIES, NUM_JOINTS, NUM_COORDS)
FRAME_VALUES = MAX_BODIES * NUM_JOINTS * NUM_COORDS  # 150: one frame of both bodies, flattened
FPS = 30  # Kinect v2 frame rate

Dataset = Literal["ntu60", "ntu120"]
DATASETS: tuple[str, ...] = ("ntu60", "ntu120")

NTU60_SETUPS = tuple(range(1, 18))
NTU60_ACTIONS = tuple(range(1, 61))
NTU60_SUBJECTS = tuple(range(1, 41))
NTU120_SETUPS = tuple(range(1, 33))
NTU120_ACTIONS = tuple(range(1, 121))
NTU120_SUBJECTS = tuple(range(1, 107))
CAMERAS = (1, 2, 3)

NTU60_XSUB_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU60_XSUB_TEST_SUBJECTS = tuple(s for s in NTU60_SUBJECTS if s not in NTU60_XSUB_TRAIN_SUBJECTS)
NTU60_XVIEW_TRAIN_CAMERAS = (2, 3)
NTU60_XVIEW_TEST_CAMERAS = (1,)
NTU120_XSUB_TRAIN_SUBJECTS = (
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38, 45, 46, 47, 49, 50, 52, 53,
    54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100,
    103,
)
NTU120_XSUB_TEST_SUBJECTS = tuple(s for s in NTU120_SUBJECTS if s not in NTU120_XSUB_TRAIN_SUBJECTS)
NTU120_XSET_TRAIN_SETUPS = tuple(s for s in NTU120_SETUPS if s % 2 == 0)
NTU120_XSET_TEST_SETUPS = tuple(s for s in NTU120_SETUPS if s % 2 == 1)

_ACTIONS: dict[str, tuple[int, ...]] = {"ntu60": NTU60_ACTIONS, "ntu120": NTU120_ACTIONS}


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r} (known: {', '.join(DATASETS)})")


def num_classes(dataset: str) -> int:
    """Classes of a release: one per action (labels are action - 1)."""
    _check_dataset(dataset)
    return len(_ACTIONS[dataset])


@cache
def _missing(dataset: str) -> frozenset[str]:
    _check_dataset(dataset)
    # beside this module (package data), found by path: works installed, editable or from a checkout
    text = (Path(__file__).parent / "reference" / f"{dataset}_missing_skeletons.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def load_missing(dataset: str) -> set[str]:
    """Sample IDs the dataset's authors list as having missing skeletons (excluded from all splits)."""
    return set(_missing(dataset))
