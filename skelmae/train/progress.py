"""A long evaluation's progress on the driver's console: sequences encoded by the train workers.

Feature extraction over whole splits (the linear evaluation) runs in Ray Train workers, whose output
stays in Ray's log files in console mode, so a worker cannot draw a bar. Each worker adds the sequences
it has encoded to a small actor; a driver thread reads the total and shows it with tqdm in a terminal,
or as a plain line at most every `LINE_EVERY_S` seconds, and only when the count moved, when the output
goes to a pipe, a file or a CI log (tqdm's carriage-return updates would make one endless line there).
"""

from __future__ import annotations

import sys
import threading
import time

import ray
from tqdm import tqdm

LINE_EVERY_S = 15.0


@ray.remote(num_cpus=0)
class SequenceCounter:
    """Sequences encoded so far, by every worker together."""

    def __init__(self):
        self.done = 0

    def add(self, n: int) -> None:
        self.done += n

    def total(self) -> int:
        return self.done


class EvalProgress:
    """`with EvalProgress("linear eval features", total) as p:` hand `p.counter` to the workers, which
    call `p.counter.add.remote(n)` (fire and forget) after each batch."""

    def __init__(self, desc: str, total: int, interval: float = 0.5, stream=None):
        self.desc, self.total, self.interval = desc, total, interval
        self.stream = stream or sys.stdout
        self.counter = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="skelmae-eval-progress", daemon=True)
        self._bar: tqdm | None = None
        self._t0 = self._last_line = 0.0
        self._shown = 0

    def __enter__(self) -> EvalProgress:
        self.counter = SequenceCounter.remote()
        self._t0 = self._last_line = time.monotonic()
        if self.stream.isatty():
            self._bar = tqdm(total=self.total, desc=self.desc, unit="seq", file=self.stream, leave=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if exc[0] is None:
            self._show(self._read(), final=True)
        if self._bar is not None:
            self._bar.close()
        ray.kill(self.counter)

    def _read(self) -> int:
        return int(ray.get(self.counter.total.remote(), timeout=30))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._show(self._read())
            except Exception:  # noqa: BLE001 - a progress line is never worth failing the job
                pass

    def _show(self, done: int, final: bool = False) -> None:
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
            return
        now = time.monotonic()
        if done != self._shown and (final or now - self._last_line >= LINE_EVERY_S):
            self._last_line, self._shown = now, done
            pct = 100.0 * done / self.total if self.total else 100.0
            print(f"{self.desc}: {done}/{self.total} sequences ({pct:.0f}%) in {now - self._t0:.0f} s",
                  file=self.stream, flush=True)
