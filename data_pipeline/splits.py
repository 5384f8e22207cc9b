"""Official NTU RGB+D benchmark splits: which part (train / test) of each benchmark a sample is in.

The ID lists they are decided by, and the missing-skeleton lists, are NTU facts in `data_pipeline.ntu`.
"""

from __future__ import annotations

from typing import Literal

from data_pipeline.ntu import (
    DATASETS,
    NTU60_ACTIONS,
    NTU60_SETUPS,
    NTU60_XSUB_TEST_SUBJECTS,
    NTU60_XSUB_TRAIN_SUBJECTS,
    NTU60_XVIEW_TEST_CAMERAS,
    NTU60_XVIEW_TRAIN_CAMERAS,
    NTU120_ACTIONS,
    NTU120_SETUPS,
    NTU120_XSET_TEST_SETUPS,
    NTU120_XSET_TRAIN_SETUPS,
    NTU120_XSUB_TEST_SUBJECTS,
    NTU120_XSUB_TRAIN_SUBJECTS,
)
from data_pipeline.skeleton_format import SampleName

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
