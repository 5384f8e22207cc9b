"""An MLflow run that tells the truth: it ends FINISHED, FAILED or KILLED, whatever ends the job.

Under Ray Train V2 `fit()` raises on a training failure (`TrainingFailedError`), so the run's status is
set where the exception passes, not from a result. SIGTERM (a scheduler, `kill`, `ray job stop`) becomes
a KeyboardInterrupt in the driver, as Ctrl-C is: Python unwinds `fit()`, Ray Train tears its workers
down with the driver, and the run ends KILLED.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from mlflow.tracking import MlflowClient

from data_pipeline.redact import redact


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the main thread while the block runs (no-op in other threads)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def run_lifecycle(tracking_uri: str, run_id: str) -> Iterator[None]:
    """Mark the run KILLED on KeyboardInterrupt/SIGTERM and FAILED (with the reason as a tag) on any other
    exception, then re-raise. The caller marks success (it logs the final artifacts first).

    SIGTERM is translated inside the block too, but `ray.init()` installs its own SIGTERM handler (it
    exits without unwinding): code that starts Ray inside the block wraps `fit()` in
    `sigterm_as_interrupt()` again, after `ray.init()`."""
    with sigterm_as_interrupt():
        try:
            yield
        except KeyboardInterrupt:
            _terminate(tracking_uri, run_id, "KILLED", "interrupted (Ctrl-C or SIGTERM)")
            raise
        except BaseException as e:
            _terminate(tracking_uri, run_id, "FAILED", f"{type(e).__name__}: {e}")
            raise


def _terminate(tracking_uri: str, run_id: str, status: str, reason: str) -> None:
    client = MlflowClient(tracking_uri)
    try:
        client.set_tag(run_id, "end_reason", redact(reason)[:5000])
    finally:
        client.set_terminated(run_id, status=status)
