"""A long evaluation's progress on the driver's console: sequences encoded by the train workers.

Feature extraction over whole splits (the linear evaluation) runs in Ray Train workers, whose output
stays in Ray's log files in console mode, so a worker cannot draw a bar. Each worker adds the sequences
it has encoded to a small actor; a driver thread reads the total every `interval` seconds and shows it
(data_pipeline.progress: a tqdm bar in a terminal, a plain line now and then when piped).
"""

from __future__ import annotations

import threading

import ray

from data_pipeline.progress import Progress


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
        self.desc, self.total, self.interval, self.stream = desc, total, interval, stream
        self.counter = None
        self._progress: Progress | None = None
        self._stop = threading.Event()
        # A read-and-show still running in the thread after the join (a slow read outlasts it) must not
        # show its older count after the final one.
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="skelmae-eval-progress", daemon=True)

    def __enter__(self) -> EvalProgress:
        self.counter = SequenceCounter.remote()
        self._progress = Progress(self.desc, self.total, "sequences", stream=self.stream)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            if exc[0] is None:
                with self._lock:
                    self._progress.update_to(self._read())
            self._progress.__exit__(*exc)
        finally:
            ray.kill(self.counter)

    def _read(self) -> int:
        return int(ray.get(self.counter.total.remote(), timeout=30))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self._lock:
                    self._progress.update_to(self._read())
            except Exception:  # noqa: BLE001 - a progress line is never worth failing the job
                pass
