"""The preprocessing pipeline on a few hundred synthetic files under a real local Ray."""

import importlib.util
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from data_pipeline import parquet_io as pio
from data_pipeline.pipeline import PreprocessJobConfig, run_preprocess
from data_pipeline.process import PreprocessConfig
from data_pipeline.synthetic import generate_dataset
from skelmae.config.loader import ConfigError, load_config

NUM_SYNTHETIC = 200
# Inputs that must not stop the job: each lands in the errors table (or is excluded) by its own reason.
BAD = {
    "S001C001P001R001A021.skeleton": "malformed",  # truncated copy of a real file
    "S001C001P001R001A022.skeleton": "malformed",  # garbage
    "S001C001P001R001A023.skeleton": "malformed",  # empty
    "not_a_sample_name.skeleton": "bad_name",
}
EXCLUDED = {
    "S001C002P005R002A008.skeleton": "missing_skeleton",  # on the official NTU60 missing list
    "S018C001P045R001A061.skeleton": "not_in_dataset",  # NTU120 only
}


def load_job(name: str):
    path = Path(__file__).resolve().parents[1] / "jobs" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"job_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory):
    raw = tmp_path_factory.mktemp("pipeline") / "raw"
    paths = generate_dataset(str(raw), NUM_SYNTHETIC, seed=3)
    good = Path(paths[0]).read_bytes()
    (raw / "S001C001P001R001A021.skeleton").write_bytes(good[: good.rindex(b"\n", 0, len(good) // 2) + 1])
    (raw / "S001C001P001R001A022.skeleton").write_bytes(b"\x00\x17garbage\nnot a skeleton file\n")
    (raw / "S001C001P001R001A023.skeleton").write_bytes(b"")
    (raw / "not_a_sample_name.skeleton").write_bytes(good)
    (raw / "notes.txt").write_text("a stray file\n")
    for name in EXCLUDED:
        (raw / name).write_bytes(good)
    return str(raw)


@pytest.fixture(scope="module")
def _runs() -> dict:
    return {}


@pytest.fixture
def processed(raw_dir, ray_local, _runs, tmp_path_factory):
    """(output dir, manifest) of one pipeline run, shared by the module (ray_local is per test)."""
    if "ntu60" not in _runs:
        out = str(tmp_path_factory.mktemp("pipeline_out") / "data")
        _runs["ntu60"] = out, run_preprocess(raw_dir, out, dataset="ntu60", cfg=PreprocessConfig())
    return _runs["ntu60"]


def test_counts_and_errors_table(processed):
    out, m = processed
    c = m["counts"]
    assert c["files_in"] == NUM_SYNTHETIC + len(BAD) + len(EXCLUDED)
    assert c["files_in"] == c["rows_out"] + c["errors"] + c["excluded"]
    assert c["excluded"] == 2
    assert c["ignored_names"] == 1  # notes.txt: only names ending in .skeleton are samples
    assert c["skipped_by_reason"]["missing_skeleton"] == 1 and c["skipped_by_reason"]["not_in_dataset"] == 1
    errors = pq.read_table(pio.errors_path(out)).to_pandas()
    assert len(errors) == c["errors"]
    reasons = dict(zip(errors.file, errors.reason, strict=True))
    for name, category in BAD.items():
        assert reasons[name].startswith(f"{category}:"), (name, reasons[name])
    assert "truncated" in reasons["S001C001P001R001A021.skeleton"]
    assert "empty" in reasons["S001C001P001R001A023.skeleton"]
    # everything else was written
    samples = pq.read_table(pio.samples_dir(out), columns=["sample_id", "source"])
    assert samples.num_rows == c["rows_out"] == NUM_SYNTHETIC - (len(errors) - len(BAD))
    assert len(set(samples.column("sample_id").to_pylist())) == samples.num_rows
    assert set(samples.column("source").to_pylist()).isdisjoint(set(BAD) | set(EXCLUDED))


def test_rows_and_split_filters(processed, ray_local):
    out, m = processed
    table = pq.read_table(pio.samples_dir(out))
    row = table.slice(0, 1).to_pylist()[0]
    data = pio.sample_array(row["joints"], row["num_frames"])
    assert data.shape == (row["num_frames"], 2, 25, 3)
    assert row["label"] == row["action"] - 1 and row["num_bodies"] in (1, 2)
    for bench, parts in m["splits"].items():
        for part, n in parts.items():
            assert pio.read_samples(out, bench, part).num_rows == n
    train = m["splits"]["ntu60-xsub"]["train"]
    assert 0 < train < m["counts"]["rows_out"]
    df = pd.read_parquet(pio.samples_dir(out), filters=[("ntu60_xsub", "==", "train")], columns=["subject"])
    assert len(df) == train
    ds = pio.read_split_dataset(out, "ntu60-xsub", "train", columns=["sample_id", "label", "joints"])
    rows = ds.take_all()
    assert len(rows) == train and set(rows[0]) == {"sample_id", "label", "joints"}
    some = sorted(r["sample_id"] for r in rows)[:3]
    assert pio.read_split_dataset(out, "ntu60-xsub", "train", sample_ids=some).count() == 3


def test_rerun_is_idempotent(processed, raw_dir):
    out, m = processed
    before = pio.manifest_hash(out)
    parts = sorted(os.listdir(pio.samples_dir(out)))
    # same output again, this time addressed as a URI through pyarrow's filesystem layer
    m2 = run_preprocess(f"file://{raw_dir}", f"file://{out}", dataset="ntu60")
    assert m2["counts"] == m["counts"]
    assert pq.read_table(pio.samples_dir(out), columns=["sample_id"]).num_rows == m["counts"]["rows_out"]
    assert sorted(os.listdir(pio.samples_dir(out))) == parts
    assert pio.manifest_hash(out) == before
    assert sorted(os.listdir(out)) == ["errors.parquet", "manifest.json", "samples"]


def test_ntu120_run_and_cli(raw_dir, ray_local, tmp_path, capsys):
    small = tmp_path / "raw"
    small.mkdir()
    synthetic = sorted(set(os.listdir(raw_dir)) - set(BAD) - set(EXCLUDED))
    for name in synthetic[:12] + list(EXCLUDED):
        shutil.copy(os.path.join(raw_dir, name), small / name)
    job = load_job("preprocess")
    out = str(tmp_path / "out")
    assert job.main(["--raw-dir", str(small), "--out", out, "--dataset", "ntu120", "--denoise", "clean"]) == 0
    console = capsys.readouterr().out
    assert "files in" in console
    # Piped (not a terminal): the progress is plain lines, the last one the whole count.
    progress = [ln for ln in console.splitlines() if ln.startswith("preprocess: ")]
    assert progress and re.match(r"preprocess: (\d+)/\1 files \(100%\) in \d+ s$", progress[-1]), console
    m = pio.read_manifest(out)
    assert m["config"]["denoise"] == "clean" and m["dataset"] == "ntu120"
    # the NTU60-missing sample is on the NTU120 list too; the A061 sample belongs to NTU120
    assert m["counts"]["skipped_by_reason"] == {"missing_skeleton": 1}
    assert "S018C001P045R001A061" in pio.read_samples(out, "ntu120-xsub", "train",
                                                       columns=["sample_id"]).column("sample_id").to_pylist()


def test_bad_config_and_inputs_fail_before_work(tmp_path, capsys):
    job = load_job("preprocess")
    assert job.main(["--raw-dir", str(tmp_path), "--out", str(tmp_path / "o"), "--dataset", "ntu90"]) == 2
    assert "dataset" in capsys.readouterr().err
    assert job.main(["--raw-dir", str(tmp_path), "--out", str(tmp_path / "o"), "--denoise", "fancy"]) == 2
    assert "denoise" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="raw_dir: no such directory"):
        load_config(PreprocessJobConfig, ["--raw-dir", str(tmp_path / "missing"), "--out", "x"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="raw_dir: .* is empty"):
        run_preprocess(str(tmp_path / "empty"), str(tmp_path / "o"))
    with pytest.raises(ConfigError, match="raw_dir: no such directory"):
        run_preprocess(str(tmp_path / "missing"), str(tmp_path / "o"))
    assert not (tmp_path / "o").exists()


def test_cli_refuses_a_foreign_out_folder_untouched(raw_dir, tmp_path, capsys):
    job = load_job("preprocess")
    out = tmp_path / "mine"
    (out / "samples").mkdir(parents=True)
    (out / "samples" / "data.csv").write_text("precious")
    assert job.main(["--raw-dir", raw_dir, "--out", str(out)]) == 2
    assert "not a skelmae dataset" in capsys.readouterr().err
    assert (out / "samples" / "data.csv").read_text() == "precious"
