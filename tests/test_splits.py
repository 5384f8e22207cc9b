"""NTU facts: official benchmark splits, missing-skeleton lists, classes, the sample layout."""

import pytest

from data_pipeline.exporters import benchmark_num_classes
from data_pipeline.ntu import (
    NTU60_XSUB_TRAIN_SUBJECTS,
    NTU120_XSET_TRAIN_SETUPS,
    NTU120_XSUB_TEST_SUBJECTS,
    NTU120_XSUB_TRAIN_SUBJECTS,
    SAMPLE_LAYOUT,
    load_missing,
    num_classes,
)
from data_pipeline.parquet_io import BENCHMARKS
from data_pipeline.skeleton_format import parse_sample_name
from data_pipeline.splits import in_dataset, split_membership, split_order
from skelmae.model.config import PRESETS


@pytest.mark.parametrize(
    "name, expected",
    [
        # subject 1 trains in both xsub; camera 2 trains in xview; setup 1 is odd -> xset test
        ("S001C002P001R001A001", ("train", "train", "train", "test")),
        # subject 3 tests; camera 1 tests; setup 2 trains
        ("S002C001P003R002A060", ("test", "test", "test", "train")),
        ("S017C003P040R001A013", ("test", "train", "test", "test")),
        ("S016C003P038R001A013", ("train", "train", "train", "train")),
        # action 61 / setup 18 are NTU120 only
        ("S018C001P045R001A061", (None, None, "train", "train")),
        ("S005C001P001R001A061", (None, None, "train", "test")),
        ("S018C002P001R001A010", (None, None, "train", "train")),
        ("S032C001P106R002A120", (None, None, "test", "train")),
        ("S031C001P103R002A120", (None, None, "train", "test")),
    ],
)
def test_split_membership_of_known_ids(name, expected):
    m = split_membership(parse_sample_name(name))
    assert (m["ntu60_xsub"], m["ntu60_xview"], m["ntu120_xsub"], m["ntu120_xset"]) == expected


def test_official_lists():
    assert len(NTU60_XSUB_TRAIN_SUBJECTS) == 20
    assert len(NTU120_XSUB_TRAIN_SUBJECTS) == 53
    assert NTU120_XSUB_TRAIN_SUBJECTS[:20] == NTU60_XSUB_TRAIN_SUBJECTS
    assert len(NTU120_XSUB_TEST_SUBJECTS) == 106 - 53
    assert NTU120_XSET_TRAIN_SETUPS == tuple(range(2, 33, 2))
    assert split_order("ntu60_xview", "train") == ("camera", (2, 3))
    assert split_order("ntu60_xsub", "test")[1][:4] == (3, 6, 7, 10)
    with pytest.raises(ValueError, match="part"):
        split_order("ntu60_xsub", "val")


def test_dataset_coverage():
    assert in_dataset(parse_sample_name("S017C001P001R001A060"), "ntu60")
    assert not in_dataset(parse_sample_name("S018C001P001R001A060"), "ntu60")
    assert not in_dataset(parse_sample_name("S017C001P001R001A061"), "ntu60")
    assert in_dataset(parse_sample_name("S032C001P001R001A120"), "ntu120")
    assert not in_dataset(parse_sample_name("S033C001P001R001A001"), "ntu120")


def test_missing_lists():
    m60, m120 = load_missing("ntu60"), load_missing("ntu120")
    assert len(m60) == 302 and len(m120) == 535
    assert m60 <= m120
    assert "S001C002P005R002A008" in m60
    assert all(parse_sample_name(s).setup >= 18 for s in m120 - m60)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_missing("ntu90")


def test_classes_per_release_and_benchmark():
    assert (num_classes("ntu60"), num_classes("ntu120")) == (60, 120)
    assert {b: benchmark_num_classes(b) for b in BENCHMARKS} == {
        "ntu60-xsub": 60, "ntu60-xview": 60, "ntu120-xsub": 120, "ntu120-xset": 120}
    with pytest.raises(ValueError, match="unknown dataset 'ntu90'"):
        num_classes("ntu90")


def test_model_presets_agree_with_the_ntu_sample_layout():
    # The model may not import data_pipeline, so it repeats [T, M, V, C]; this holds the two equal.
    for name, preset in PRESETS.items():
        assert (preset["num_persons"], preset["num_joints"], preset["in_chans"]) == SAMPLE_LAYOUT, name
