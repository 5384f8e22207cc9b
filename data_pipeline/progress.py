"""A job's progress on the console: a tqdm bar in a terminal, a plain line now and then when piped.

tqdm's carriage-return updates make one endless line in a file or a CI log, so there the count is a
line of its own, at most every `LINE_EVERY_S` seconds and only when it moved, plus a last one at the end:
    preprocess: 12800/56880 files (23%) in 45 s
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

LINE_EVERY_S = 15.0


class Progress:
    """`with Progress("preprocess", total, "files") as p: ... p.update_to(done)`.

    `bar=False` draws nothing in a terminal (where another bar, e.g. Ray Data's, already shows)."""

    def __init__(self, desc: str, total: int, unit: str, stream: TextIO | None = None, bar: bool = True):
        self.desc, self.total, self.unit = desc, total, unit
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream) if self.tty and bar else None
        self._t0 = self._last_line = time.monotonic()
        self._shown = 0
        self.done = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.update_to(self.done, final=True)
        if self._bar is not None:
            self._bar.close()

    def update_to(self, done: int, final: bool = False) -> None:
        self.done = done
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
            return
        if self.tty:
            return
        now = time.monotonic()
        if done != self._shown and (final or now - self._last_line >= LINE_EVERY_S):
            self._last_line, self._shown = now, done
            pct = 100.0 * done / self.total if self.total else 100.0
            print(f"{self.desc}: {done}/{self.total} {self.unit} ({pct:.0f}%) in {now - self._t0:.0f} s",
                  file=self.stream, flush=True)
