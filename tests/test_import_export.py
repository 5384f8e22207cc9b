"""Export to the CTR-GCN / ST-GCN array layouts, import them back, and the full round trip."""

import importlib.util
import json
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from data_pipeline import parquet_io as pio
from data_pipeline.exporters import export_ctrgcn_npz, export_stgcn_npy
from data_pipeline.importers import ImportFormatError, _load_labels, import_ctrgcn_npz, import_stgcn_npy, trim_sample
from data_pipeline.skeleton_format import parse_sample_name
from data_pipeline.splits import split_membership

TRAIN = [  # (id, frames): subjects 4, 1, 1, 2 -> exported in list order 1, 1, 2, 4
    ("S001C001P004R001A001", 20),
    ("S001C002P001R001A002", 310),  # longer than 300: truncated
    ("S002C001P001R001A003", 15),
    ("S001C003P002R001A004", 12),
]
TEST = [("S001C001P006R001A005", 9), ("S001C002P003R001A006", 11)]  # subjects 6, 3


def load_job(name: str):
    path = Path(__file__).resolve().parents[1] / "jobs" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"job_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_row(sample_id: str, num_frames: int, seed: int, num_bodies: int) -> dict:
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


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("export") / "data"
    w = pio.DatasetWriter(str(d))
    for i, (sid, t) in enumerate(TRAIN + TEST):
        w.add(make_row(sid, t, seed=i, num_bodies=1 + i % 2))
    w.finish([], {"kind": "test"})
    return str(d)


def stored(data_dir: str) -> dict[str, np.ndarray]:
    t = pio.read_samples(data_dir)
    return {
        sid: pio.sample_array(j, n)
        for sid, j, n in zip(t.column("sample_id").to_pylist(), t.column("joints").to_pylist(),
                             t.column("num_frames").to_pylist(), strict=True)
    }


def test_ctrgcn_export_layout_and_order(data_dir, tmp_path):
    out = str(tmp_path / "ntu60_cs.npz")
    with pytest.warns(UserWarning, match="1 samples longer than 300"):
        s = export_ctrgcn_npz(data_dir, "ntu60-xsub", out)
    assert s["truncated"] == 1
    assert s["train_ids"] == ["S001C002P001R001A002", "S002C001P001R001A003", "S001C003P002R001A004",
                              "S001C001P004R001A001"]
    assert s["test_ids"] == ["S001C002P003R001A006", "S001C001P006R001A005"]  # subject 3 before 6
    z = np.load(out)
    assert sorted(z.files) == ["x_test", "x_train", "y_test", "y_train"]
    assert z["x_train"].shape == (4, 300, 150) and z["x_train"].dtype == np.float32
    assert z["y_train"].shape == (4, 60) and z["y_test"].shape == (2, 60)
    np.testing.assert_array_equal(z["y_train"].sum(axis=1), 1)
    np.testing.assert_array_equal(z["y_train"].argmax(axis=1), [1, 2, 3, 0])  # label = action - 1
    data = stored(data_dir)
    for k, sid in enumerate(s["train_ids"]):
        x = z["x_train"][k].reshape(300, 2, 25, 3)
        d = data[sid][:300]
        np.testing.assert_array_equal(x[: len(d)], d)
        assert not x[len(d):].any()  # zero padding
    # cross-view: cameras 2 then 3 train, each in name order
    with pytest.warns(UserWarning):
        s = export_ctrgcn_npz(data_dir, "ntu60-xview", str(tmp_path / "cv.npz"))
    assert s["train_ids"] == ["S001C002P001R001A002", "S001C002P003R001A006", "S001C003P002R001A004"]


def test_ctrgcn_import_round_trip(data_dir, tmp_path):
    out = str(tmp_path / "cs.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = export_ctrgcn_npz(data_dir, "ntu60-xsub", out)
    m = import_ctrgcn_npz(out, str(tmp_path / "imported"), "ntu60-xsub")
    assert m["counts"]["rows_out"] == 6 and m["splits"]["ntu60-xsub"] == {"train": 4, "test": 2}
    t = pio.read_samples(str(tmp_path / "imported")).sort_by("sample_id")
    assert t.column("sample_id").to_pylist()[:2] == ["ctrgcn_test_000001", "ctrgcn_test_000002"]
    assert t.column("subject").null_count == 6 and t.column("ntu60_xview").null_count == 6
    imported = stored(str(tmp_path / "imported"))
    data = stored(data_dir)
    for part in ("train", "test"):
        for k, sid in enumerate(s[f"{part}_ids"]):
            np.testing.assert_array_equal(imported[f"ctrgcn_{part}_{k + 1:06d}"], data[sid][:300])
    # exporting the imported data again gives the same arrays (order kept through the synthesized IDs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_ctrgcn_npz(str(tmp_path / "imported"), "ntu60-xsub", str(tmp_path / "again.npz"))
    a, b = np.load(out), np.load(str(tmp_path / "again.npz"))
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])


def test_stgcn_export_import(data_dir, tmp_path):
    out = tmp_path / "xsub"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = export_stgcn_npy(data_dir, "ntu60-xsub", str(out))
    x = np.load(out / "train_data_joint.npy")
    assert x.shape == (4, 3, 300, 25, 2) and x.dtype == np.float32
    with open(out / "val_label.pkl", "rb") as fh:
        names, labels = pickle.load(fh)
    assert names == [f"{i}.skeleton" for i, _ in sorted(TEST)] and labels == [4, 5]
    m = import_stgcn_npy(str(out), str(tmp_path / "imported"), "ntu60-xsub")
    assert m["counts"]["rows_out"] == 6
    orig = pio.read_samples(data_dir).sort_by("sample_id")
    back = pio.read_samples(str(tmp_path / "imported")).sort_by("sample_id")
    for c in ["sample_id", "setup", "camera", "subject", "action", "label", "num_bodies", "ntu60_xsub",
              "ntu60_xview", "ntu120_xsub", "ntu120_xset"]:
        assert back.column(c).to_pylist() == orig.column(c).to_pylist(), c
    assert back.column("num_frames").to_pylist() == [min(t, 300) for t in orig.column("num_frames").to_pylist()]
    assert s["train"] == 4


def test_ntu120_copied_actor_import(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 25, 3)).astype(np.float32)
    x = np.zeros((4, 300, 2, 25, 3), np.float32)
    x[0, :50, 0] = a
    x[0, :50, 1] = a  # the NTU120 scripts' copy of actor 1 into the empty slot
    x[1, :40] = rng.normal(size=(40, 2, 25, 3))  # a real two-actor sample
    x[2, :30, 0] = a[:30]  # one actor, slot 2 zero
    y = np.zeros((4, 120), np.float32)
    y[np.arange(4), [0, 119, 5, 7]] = 1  # sample 3 stays all zero: unusable
    np.savez(tmp_path / "ntu120.npz", x_train=x.reshape(4, 300, 150), y_train=y,
             x_test=x[:1].reshape(1, 300, 150), y_test=y[:1])
    m = import_ctrgcn_npz(str(tmp_path / "ntu120.npz"), str(tmp_path / "out"), "ntu120-xsub")
    assert m["counts"] == {"samples_in": 5, "rows_out": 4, "errors": 1, "excluded": 0,
                           "skipped_by_reason": {"unusable": 1}, "copied_actor_removed": 2}
    t = pio.read_samples(str(tmp_path / "out"), "ntu120-xsub", "train").sort_by("sample_id")
    assert t.column("num_bodies").to_pylist() == [1, 2, 1]
    assert t.column("num_frames").to_pylist() == [50, 40, 30]
    assert t.column("label").to_pylist() == [0, 119, 5]
    d0 = pio.sample_array(t.column("joints")[0].as_py(), 50)
    np.testing.assert_array_equal(d0[:, 0], a)
    assert not d0[:, 1].any()
    errors = pio.read_errors(str(tmp_path / "out"))
    assert errors.column("file").to_pylist() == ["ntu120.npz:x_train[3]"]
    assert pc.all(pc.starts_with(errors.column("reason"), "unusable")).as_py()
    # without the dedupe the copy stays a second actor
    _, bodies, copied = trim_sample(x[0], dedupe_copied_actor=False)
    assert bodies == 2 and not copied


@pytest.mark.filterwarnings("ignore:1 samples longer")
def test_export_job_cli(data_dir, tmp_path, capsys):
    job = load_job("export")
    out = str(tmp_path / "cli.npz")
    assert job.main(["--data", data_dir, "--benchmark", "ntu60-xview", "--format", "ctrgcn-npz",
                     "--out", out]) == 0
    assert np.load(out)["x_train"].shape == (3, 300, 150)
    assert job.main(["--data", data_dir, "--benchmark", "ntu60-cs", "--out", out]) == 2
    assert "benchmark" in capsys.readouterr().err
    assert job.main(["--data", str(tmp_path / "none"), "--out", out]) == 2
    assert "data:" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_round_trip_raw_parquet_export_import(ray_local, tmp_path):
    """raw files -> Parquet -> export -> import -> Parquet gives the same samples."""
    from data_pipeline.pipeline import run_preprocess
    from data_pipeline.synthetic import generate_dataset

    generate_dataset(str(tmp_path / "raw"), 24, seed=5)
    first = str(tmp_path / "first")
    m = run_preprocess(str(tmp_path / "raw"), first, dataset="ntu60")
    assert m["counts"]["rows_out"] == 24
    cols = ["sample_id", "setup", "camera", "subject", "replication", "action", "label", "num_frames",
            "num_bodies", "ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset", "joints"]
    orig = pio.read_samples(first, columns=cols).sort_by("sample_id")

    export_stgcn_npy(first, "ntu60-xsub", str(tmp_path / "stgcn"))
    import_stgcn_npy(str(tmp_path / "stgcn"), str(tmp_path / "back"), "ntu60-xsub")
    assert pio.read_samples(str(tmp_path / "back"), columns=cols).sort_by("sample_id").equals(orig)

    s = export_ctrgcn_npz(first, "ntu60-xsub", str(tmp_path / "cs.npz"))
    import_ctrgcn_npz(str(tmp_path / "cs.npz"), str(tmp_path / "back_npz"), "ntu60-xsub")
    back = stored(str(tmp_path / "back_npz"))
    data = stored(first)
    for part in ("train", "test"):
        for k, sid in enumerate(s[f"{part}_ids"]):
            np.testing.assert_array_equal(back[f"ctrgcn_{part}_{k + 1:06d}"], data[sid])


class _Payload:
    """Unpickling this runs a command: what a hostile label file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


class _PathPayload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        from pathlib import Path

        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("payload", [_Payload, _PathPayload])
def test_label_pickle_that_would_run_code_is_refused(data_dir, tmp_path, payload):
    src = tmp_path / "stgcn"
    export_stgcn_npy(data_dir, "ntu60-xsub", str(src))
    marker = tmp_path / "MARKER"
    label = src / "train_label.pkl"
    with open(label, "wb") as fh:
        pickle.dump((["S001C001P004R001A001"], [payload(marker)]), fh)
    with pytest.raises(ImportFormatError, match=f"{label}: not an ST-GCN label file.*refused global"):
        import_stgcn_npy(str(src), str(tmp_path / "out"), "ntu60-xsub")
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_label_pickle_of_object_array_is_refused(data_dir, tmp_path):
    src = tmp_path / "stgcn"
    export_stgcn_npy(data_dir, "ntu60-xsub", str(src))
    names, labels = _load_labels(str(src / "train_label.pkl"))
    with open(src / "train_label.pkl", "wb") as fh:
        pickle.dump((names, np.array(labels, dtype=object)), fh)
    with pytest.raises(ImportFormatError, match="train_label.pkl: .*not an integer dtype"):
        _load_labels(str(src / "train_label.pkl"))


@pytest.mark.parametrize("labels", [lambda ls: ls, lambda ls: np.array(ls, np.int64),
                                    lambda ls: [np.int64(v) for v in ls], lambda ls: tuple(ls)])
def test_label_pickles_of_the_standard_scripts_load(data_dir, tmp_path, labels):
    src = tmp_path / "stgcn"
    export_stgcn_npy(data_dir, "ntu60-xsub", str(src))
    names, ls = _load_labels(str(src / "train_label.pkl"))
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        with open(src / "train_label.pkl", "wb") as fh:
            pickle.dump((names, labels(ls)), fh, protocol=protocol)
        assert _load_labels(str(src / "train_label.pkl")) == (names, ls)


def test_import_job_reaches_both_formats_and_guards_out(data_dir, tmp_path, capsys):
    job = load_job("import")
    export_ctrgcn_npz(data_dir, "ntu60-xsub", str(tmp_path / "cs.npz"))
    export_stgcn_npy(data_dir, "ntu60-xsub", str(tmp_path / "stgcn"))
    out = str(tmp_path / "a")
    assert job.main(["--format", "ctrgcn-npz", "--source", str(tmp_path / "cs.npz"), "--out", out]) == 0
    assert "rows out   : 6" in capsys.readouterr().out
    assert pio.read_manifest(out)["config"]["format"] == "ctrgcn-npz"
    assert job.main(["--format", "stgcn-npy", "--source", str(tmp_path / "stgcn"), "--out", out]) == 0
    assert pio.read_manifest(out)["config"]["format"] == "stgcn-npy"
    assert pio.read_samples(out).num_rows == 6
    user = tmp_path / "user"
    user.mkdir()
    (user / "keep.txt").write_text("mine")
    assert job.main(["--format", "stgcn-npy", "--source", str(tmp_path / "stgcn"), "--out", str(user)]) == 2
    assert "not a skelmae dataset" in capsys.readouterr().err
    assert sorted(os.listdir(user)) == ["keep.txt"]
    assert job.main(["--format", "stgcn-npy", "--source", str(tmp_path / "cs.npz"), "--out", out]) == 2
    assert "source:" in capsys.readouterr().err
    assert job.main(["--format", "stgcn-npy", "--source", str(tmp_path / "stgcn"),
                     "--out", str(tmp_path / "stgcn" / "o")]) == 2
    assert "overlap" in capsys.readouterr().err
