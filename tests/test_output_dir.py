"""The output folder is ours alone: foreign folders refused untouched, one run at a time, swapped in whole.

The fault tests SIGKILL a real `jobs/import.py` process (no Ray needed) at named points of the swap
(output_dir.pause) and check that the folder then holds the old or the new dataset, readable.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from data_pipeline import output_dir
from data_pipeline import parquet_io as pio
from data_pipeline.errors import ConfigError
from data_pipeline.importers import import_ctrgcn_npz
from data_pipeline.pipeline import run_preprocess

REPO = Path(__file__).resolve().parents[1]


def make_npz(path: Path, n_train: int, n_test: int = 1, seed: int = 0) -> str:
    """A small CTR-GCN `.npz`: n samples of 10 frames, one actor, zero-padded to 300 frames."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for part, n in (("train", n_train), ("test", n_test)):
        x = np.zeros((n, 300, 150), np.float32)
        x[:, :10, :75] = rng.normal(size=(n, 10, 75))
        arrays[f"x_{part}"] = x
        arrays[f"y_{part}"] = np.eye(60, dtype=np.float32)[rng.integers(0, 60, n)]
    np.savez(path, **arrays)
    return str(path)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(folder.rglob("*"))}


def rows(data_dir) -> int:
    return pio.read_samples(str(data_dir)).num_rows


@pytest.fixture
def npz(tmp_path):
    return make_npz(tmp_path / "old.npz", 3), make_npz(tmp_path / "new.npz", 5, seed=1)


def test_foreign_folders_are_refused_untouched(tmp_path, npz):
    user = tmp_path / "user"
    (user / "samples").mkdir(parents=True)
    (user / "samples" / "thesis.tex").write_text("years of work")
    (user / "manifest.json").write_text('{"mine": true}')
    (user / ".staging-keep").mkdir()
    (user / ".staging-keep" / "f").write_text("x")
    before = snapshot(user)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "S001C001P001R001A001.skeleton").write_text("1\n0\n")
    for run in (lambda: import_ctrgcn_npz(npz[0], str(user), "ntu60-xsub"),
                lambda: run_preprocess(str(raw), str(user))):
        with pytest.raises(ConfigError, match="not a skelmae dataset"):
            run()
    assert snapshot(user) == before

    # our manifest, but a file we did not write beside it: still refused
    ours = tmp_path / "ours"
    import_ctrgcn_npz(npz[0], str(ours), "ntu60-xsub")
    (ours / "samples" / "notes.txt").write_text("mine")
    (ours / "plot.png").write_bytes(b"png")
    before = snapshot(ours)
    with pytest.raises(ConfigError, match="did not write.*plot.png"):
        import_ctrgcn_npz(npz[1], str(ours), "ntu60-xsub")
    assert snapshot(ours) == before

    a_file = tmp_path / "a_file"
    a_file.write_text("keep")
    with pytest.raises(ConfigError, match="not a folder"):
        import_ctrgcn_npz(npz[0], str(a_file), "ntu60-xsub")
    assert a_file.read_text() == "keep"


def test_empty_folder_and_our_dataset_are_replaced(tmp_path, npz):
    out = tmp_path / "out"
    out.mkdir()
    import_ctrgcn_npz(npz[0], str(out), "ntu60-xsub")
    assert rows(out) == 4
    import_ctrgcn_npz(npz[1], str(out), "ntu60-xsub")
    assert rows(out) == 6
    assert sorted(os.listdir(tmp_path)) == ["new.npz", "old.npz", "out"]  # no lock, staging or old left


def test_input_and_output_must_not_overlap_even_through_symlinks(tmp_path):
    raw = tmp_path / "raw"
    (raw / "samples").mkdir(parents=True)
    (raw / "samples" / "S001C001P001R001A001.skeleton").write_text("1\n0\n")
    before = snapshot(raw)
    link = tmp_path / "link_to_raw"
    link.symlink_to(raw)
    with pytest.raises(ConfigError, match="overlap"):
        run_preprocess(str(link / "samples"), str(raw))  # raw dir inside out, seen through a link
    with pytest.raises(ConfigError, match="overlap"):
        run_preprocess(str(raw), str(link / "sub" / "out"))  # out inside raw dir, through a link
    with pytest.raises(ConfigError, match="overlap"):
        run_preprocess(str(raw), str(raw))
    assert snapshot(raw) == before
    assert not (raw / "sub").exists()


def _start_import(src: str, out: Path, pause_at: str, tmp_path: Path, **env) -> tuple[subprocess.Popen, Path]:
    marker = tmp_path / f"paused-{pause_at}"
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "jobs/import.py", "--format", "ctrgcn-npz", "--source", src, "--out", str(out)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "SKELMAE_PAUSE_AT": pause_at, "SKELMAE_PAUSE_FILE": str(marker),
             **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"import ended before {pause_at}: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"import never reached {pause_at}")
        time.sleep(0.05)
    return proc, marker


@pytest.mark.parametrize("point,swap", [("staged", ""), ("swapped", ""), ("old-moved", "rename"),
                                        ("swapped", "rename")])
def test_kill_during_publish_leaves_old_or_new_dataset(tmp_path, npz, point, swap):
    out = tmp_path / "out"
    import_ctrgcn_npz(npz[0], str(out), "ntu60-xsub")  # the old dataset: 4 rows
    proc, _ = _start_import(npz[1], out, point, tmp_path, SKELMAE_SWAP=swap)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if point == "staged":
        assert rows(out) == 4
    elif point == "swapped":
        assert rows(out) == 6
    else:  # the fallback swap's one gap: OUT is renamed away; the next run puts it back first
        assert not out.exists()
        output_dir.recover(str(out))
        assert rows(out) == 4
    # the next run recovers whatever was left (stale lock, staging, old copy) and replaces the dataset
    import_ctrgcn_npz(npz[0], str(out), "ntu60-xsub")
    assert rows(out) == 4
    assert sorted(n for n in os.listdir(tmp_path) if not n.startswith("paused-")) == ["new.npz", "old.npz", "out"]


def test_second_run_refused_while_first_runs_and_its_staging_is_kept(tmp_path, npz):
    out = tmp_path / "out"
    proc, _ = _start_import(npz[1], out, "staged", tmp_path)
    try:
        staging = list(tmp_path.glob(".out.staging-*"))
        assert len(staging) == 1
        with pytest.raises(ConfigError, match=f"in use by another run \\(pid {proc.pid} on {socket.gethostname()}"):
            import_ctrgcn_npz(npz[0], str(out), "ntu60-xsub")
        assert staging[0].is_dir() and list((staging[0] / "samples").iterdir())
    finally:
        proc.kill()
        proc.wait()
    # its owner is dead: the lock is stale, the next run takes it over
    lock = json.loads((tmp_path / ".out.lock").read_text())
    assert lock["pid"] == proc.pid
    import_ctrgcn_npz(npz[0], str(out), "ntu60-xsub")
    assert rows(out) == 4
    assert not list(tmp_path.glob(".out.*"))
