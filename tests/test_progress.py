"""Progress on the console: plain lines when piped (never tqdm's carriage returns), nothing twice."""

from __future__ import annotations

import io

from data_pipeline import progress as progress_mod
from data_pipeline.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_piped_progress_prints_a_line_when_the_count_moved_and_a_last_one(monkeypatch):
    monkeypatch.setattr(progress_mod, "LINE_EVERY_S", 0.0)
    out = io.StringIO()
    with Progress("preprocess", 10, "files", stream=out) as p:
        p.update_to(0)  # nothing done yet: no line
        p.update_to(4)
        p.update_to(4)  # unchanged: no second line
        p.update_to(10)
    lines = out.getvalue().splitlines()
    assert [ln.split(" in ")[0] for ln in lines] == ["preprocess: 4/10 files (40%)", "preprocess: 10/10 files (100%)"]
    assert "\r" not in out.getvalue()


def test_piped_progress_waits_between_lines_but_always_ends_with_the_total(monkeypatch):
    monkeypatch.setattr(progress_mod, "LINE_EVERY_S", 3600.0)
    out = io.StringIO()
    with Progress("linear eval features", 3, "sequences", stream=out) as p:
        for done in (1, 2, 3):
            p.update_to(done)
    assert [ln.split(" in ")[0] for ln in out.getvalue().splitlines()] == ["linear eval features: 3/3 sequences (100%)"]


def test_in_a_terminal_a_bar_or_nothing():
    term = _Terminal()
    with Progress("preprocess", 5, "files", stream=term, bar=False) as p:
        p.update_to(5)
    assert term.getvalue() == ""  # another bar (Ray Data's) already shows there
    term = _Terminal()
    with Progress("eval", 5, "seq", stream=term) as p:
        p.update_to(5)
    assert "5/5" in term.getvalue() and "eval" in term.getvalue()
