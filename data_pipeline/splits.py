"""Official NTU RGB+D benchmark splits and the missing-skeleton lists.

NTU60 (setups 1-17, actions 1-60): cross-subject trains on the official subject list, cross-view
trains on cameras 2 and 3. NTU120 (setups 1-32, actions 1-120): cross-subject trains on its own
subject list, cross-setup trains on even setup IDs. The train/test ID lists are kept in the order
the standard preprocessing scripts loop over them, because exported arrays follow that order.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from data_pipeline.skeleton_format import SampleName

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


# column -> (dataset, SampleName attribute the split is decided by, train IDs, test IDs)
SPLIT_RULES: dict[str, tuple[str, str, tuple[int, ...], tuple[int, ...]]] = {
    "ntu60_xsub": ("ntu60", "subject", NTU60_XSUB_TRAIN_SUBJECTS, NTU60_XSUB_TEST_SUBJECTS),
    "ntu60_xview": ("ntu60", "camera", NTU60_XVIEW_TRAIN_CAMERAS, NTU60_XVIEW_TEST_CAMERAS),
    "ntu120_xsub": ("ntu120", "subject", NTU120_XSUB_TRAIN_SUBJECTS, NTU120_XSUB_TEST_SUBJECTS),
    "ntu120_xset": ("ntu120", "setup", NTU120_XSET_TRAIN_SETUPS, NTU120_XSET_TEST_SETUPS),
}
SPLIT_COLUMNS: tuple[str, ...] = tuple(SPLIT_RULES)


def split_order(column: str, part: Literal["train", "test"]) -> tuple[str, tuple[int, ...]]:
    """(attribute, IDs in loop order) of one split part, e.g. ("subject", (1, 2, 4, ...))."""
    if column not in SPLIT_RULES:
        raise ValueError(f"unknown split column {column!r} (known: {', '.join(SPLIT_COLUMNS)})")
    _, attr, train, test = SPLIT_RULES[column]
    if part not in ("train", "test"):
        raise ValueError(f"split part must be 'train' or 'test', got {part!r}")
    return attr, train if part == "train" else test


def num_classes(dataset: str) -> int:
    return 60 if dataset == "ntu60" else 120


def in_dataset(name: SampleName, dataset: str) -> bool:
    """Whether the release `dataset` contains this sample (by setup and action)."""
    if dataset == "ntu60":
        return 1 <= name.setup <= NTU60_SETUPS[-1] and 1 <= name.action <= NTU60_ACTIONS[-1]
    if dataset == "ntu120":
        return 1 <= name.setup <= NTU120_SETUPS[-1] and 1 <= name.action <= NTU120_ACTIONS[-1]
    raise ValueError(f"unknown dataset {dataset!r} (known: {', '.join(DATASETS)})")


def split_membership(name: SampleName) -> dict[str, str | None]:
    """{split column: "train" | "test" | None}; None where the benchmark does not cover the sample."""
    out: dict[str, str | None] = {}
    for column, (dataset, attr, train, test) in SPLIT_RULES.items():
        value = getattr(name, attr)
        if not in_dataset(name, dataset):
            out[column] = None
        elif value in train:
            out[column] = "train"
        elif value in test:
            out[column] = "test"
        else:  # an ID outside the release's range (e.g. camera 4)
            out[column] = None
    return out


@cache
def _missing(dataset: str) -> frozenset[str]:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r} (known: {', '.join(DATASETS)})")
    # beside this module (package data), found by path: works installed, editable or from a checkout
    text = (Path(__file__).parent / "reference" / f"{dataset}_missing_skeletons.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def load_missing(dataset: str) -> set[str]:
    """Sample IDs the dataset's authors list as having missing skeletons (excluded from all splits)."""
    return set(_missing(dataset))
