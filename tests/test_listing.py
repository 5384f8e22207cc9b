"""Listing a raw folder: every `.skeleton` entry is accounted for, awkward ones become error rows."""

import os
import socket

import pytest

from data_pipeline.listing import list_local
from data_pipeline.pipeline import run_preprocess
from data_pipeline.synthetic import generate_dataset

BAD_UTF8 = b"S001C001P001R001A0\xff1.skeleton"


def awkward_folder(root) -> tuple[str, int]:
    """A raw folder with 5 good files and every kind of awkward entry; returns (path, good files)."""
    raw = root / "raw"
    generate_dataset(str(raw / "sub"), 5, seed=1)
    os.symlink(raw, raw / "sub" / "loop")  # a loop: raw/sub/loop/sub/loop/...
    os.symlink(raw / "sub", raw / "again")  # the same folder reached twice
    with open(os.path.join(os.fsencode(raw), BAD_UTF8), "wb") as fh:
        fh.write(b"1\n0\n")
    os.symlink(raw / "nowhere", raw / "S001C001P001R001A002.skeleton")  # dangling
    os.mkfifo(raw / "S001C001P001R001A003.skeleton")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(raw / "S001C001P001R001A004.skeleton"))
    sock.close()
    (raw / "S001C001P001R001A005.skeleton.bak").write_text("not a sample name")
    (raw / "notes.txt").write_text("stray")
    (raw / ".hidden.skeleton").write_text("hidden")
    return str(raw), 5


def test_awkward_entries_are_errors_and_loops_count_once(tmp_path):
    raw, good = awkward_folder(tmp_path)
    listing = list_local(raw)
    assert len(listing.files) == good  # the loop and the second link add nothing (was 205 for 5)
    assert all(rel.startswith("sub/") and rel.endswith(".skeleton") for _, rel in listing.files)
    reasons = {e["file"]: e["reason"] for e in listing.errors}
    assert reasons == {
        "S001C001P001R001A0\\xff1.skeleton": "bad_name: the file name is not valid UTF-8",
        "S001C001P001R001A002.skeleton": "unreadable: dangling symlink",
        "S001C001P001R001A003.skeleton": "unreadable: a FIFO, not a regular file",
        "S001C001P001R001A004.skeleton": "unreadable: a socket, not a regular file",
    }
    assert listing.ignored >= 4  # .bak, notes.txt, hidden, the folder reached twice


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_preprocess_goes_on_past_awkward_entries_and_accounts_for_all(tmp_path, ray_local):
    raw, good = awkward_folder(tmp_path)
    m = run_preprocess(raw, str(tmp_path / "out"), dataset="ntu60")
    c = m["counts"]
    assert c["files_in"] == good + 4
    assert c["files_in"] == c["rows_out"] + c["errors"] + c["excluded"]
    assert c["errors"] == 4 and c["skipped_by_reason"]["unreadable"] == 3 and c["skipped_by_reason"]["bad_name"] == 1
