"""The Parquet dataset layout: plain pyarrow/pandas reads, split filters, manifest, atomic rewrite."""

import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_pipeline import parquet_io as pio
from data_pipeline.skeleton_format import parse_sample_name
from data_pipeline.splits import split_membership


def make_row(sample_id: str, num_frames: int, seed: int, num_bodies: int = 1) -> dict:
    n = parse_sample_name(sample_id)
    data = np.random.default_rng(seed).normal(size=(num_frames, 2, 25, 3)).astype(np.float32)
    if num_bodies == 1:
        data[:, 1] = 0
    return {
        "sample_id": n.sample_id, "setup": n.setup, "camera": n.camera, "subject": n.subject,
        "replication": n.replication, "action": n.action, "label": n.label, "num_frames": num_frames,
        "num_bodies": num_bodies, **split_membership(n), "joints": data,
        "denoise_info": json.dumps({"seed": seed}), "source": f"{sample_id}.skeleton",
    }


IDS = [
    "S001C001P001R001A001",  # xsub train, xview test
    "S001C002P003R001A002",  # xsub test, xview train
    "S002C003P004R002A003",  # xsub train, xview train
    "S003C001P006R001A004",  # xsub test, xview test
    "S018C001P045R001A061",  # NTU120 only
]


def write(data_dir, rows, rows_per_part=2):
    w = pio.DatasetWriter(str(data_dir), rows_per_part=rows_per_part)
    for r in rows:
        w.add(r)
    return w.finish([{"file": "bad.skeleton", "reason": "malformed: test"}], {"kind": "test", "config": {"x": 1}})


@pytest.fixture()
def dataset(tmp_path):
    rows = [make_row(s, 10 + 3 * i, i, num_bodies=1 + i % 2) for i, s in enumerate(IDS)]
    write(tmp_path / "data", rows)
    return tmp_path / "data", rows


def test_plain_pyarrow_and_pandas_read(dataset):
    data_dir, rows = dataset
    table = pq.read_table(pio.samples_dir(str(data_dir)))
    assert table.num_rows == len(rows)
    assert table.schema.field("joints").type == pa.list_(pa.float32())  # no Ray extension type
    assert table.schema.field("label").type == pa.int16()
    df = pd.read_parquet(pio.samples_dir(str(data_dir)))
    r = df.set_index("sample_id").loc["S002C003P004R002A003"]
    got = pio.sample_array(r["joints"], r["num_frames"])
    np.testing.assert_array_equal(got, rows[2]["joints"])
    assert got.shape == (16, 2, 25, 3) and got.dtype == np.float32
    errors = pq.read_table(pio.errors_path(str(data_dir)))
    assert errors.column_names == ["file", "reason"] and errors.num_rows == 1


def test_split_is_a_filter(dataset):
    data_dir, _ = dataset
    files = os.listdir(data_dir)
    assert sorted(files) == ["errors.parquet", "manifest.json", "samples"]  # no per-split copies
    ids = pq.read_table(pio.samples_dir(str(data_dir)), filters=pio.split_filter("ntu60-xsub", "train"),
                        columns=["sample_id"]).column("sample_id").to_pylist()
    assert sorted(ids) == [IDS[0], IDS[2]]
    df = pd.read_parquet(pio.samples_dir(str(data_dir)), filters=[("ntu60_xview", "==", "train")])
    assert sorted(df.sample_id) == [IDS[1], IDS[2]]
    assert pio.read_samples(str(data_dir), "ntu60-xview", "test").num_rows == 2
    assert pio.read_samples(str(data_dir), "ntu60-xsub").num_rows == 4  # both parts; NTU120-only row left out
    assert pio.read_samples(str(data_dir), "ntu120-xsub", "train", columns=["label"]).column_names == ["label"]
    with pytest.raises(ValueError, match="unknown benchmark"):
        pio.split_filter("ntu60-cs", "train")
    with pytest.raises(ValueError, match="part"):
        pio.split_filter("ntu60-xsub", "val")


def test_manifest_and_hash(dataset, tmp_path):
    data_dir, rows = dataset
    m = pio.read_manifest(str(data_dir))
    assert m["schema_version"] == pio.SCHEMA_VERSION
    assert m["splits"]["ntu60-xsub"] == {"train": 2, "test": 2}
    assert m["splits"]["ntu120-xsub"]["train"] + m["splits"]["ntu120-xsub"]["test"] == 5
    h = pio.manifest_hash(str(data_dir))
    write(tmp_path / "other", rows)  # same rows elsewhere: same identity
    assert pio.manifest_hash(str(tmp_path / "other")) == h
    rows[0] = dict(rows[0], joints=rows[0]["joints"] + 1)
    write(tmp_path / "other", rows)
    assert pio.manifest_hash(str(tmp_path / "other")) != h
    with pytest.raises(FileNotFoundError, match="manifest"):
        pio.read_manifest(str(tmp_path / "nowhere"))


def test_rewrite_replaces_and_uri(dataset):
    data_dir, rows = dataset
    write(data_dir, rows[:3], rows_per_part=1)
    assert pq.read_table(pio.samples_dir(str(data_dir))).num_rows == 3  # replaced, not appended
    assert not [f for f in os.listdir(data_dir) if f.startswith(pio.STAGING_PREFIX)]
    uri = f"file://{data_dir}"
    assert pio.read_samples(uri, "ntu60-xsub", "train").num_rows == 2
    assert pio.read_manifest(uri)["kind"] == "test"
