"""Per-epoch metrics in MLflow, exactly once, through worker failures and restarts; the console epoch line.

`EpochMetricsLogger` is a Ray Train controller-side callback. The controller calls `after_report` only
after its checkpoint manager registered the report's checkpoint (ReportCallbackHandler runs the
checkpoint manager first), so an epoch is logged only once a checkpoint covers it: a worker that dies
before that restarts from the previous checkpoint and reports the epoch again, and only that second
report is logged. Reports without a checkpoint wait in a buffer for the next checkpoint; a worker
failure empties the buffer (those epochs run again). Epochs already in the run's history (a `--resume`
after a killed driver) are skipped.

`EpochConsole` is a driver thread that follows the run's metric history and prints one line per epoch:
    epoch 3/12  loss 0.0328  lr 1.2e-3  112 seq/s  knn 0.68  eta 1m40s
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from ray.train import UserCallback

KEY = "loss"  # every training loop reports it every epoch: its history says which epochs are logged
NOT_LOGGED = ("epoch", "score")  # the step itself; the sweep's carried objective (logged as knn_acc)


class EpochMetricsLogger(UserCallback):
    def __init__(self, tracking_uri: str, run_id: str):
        self.tracking_uri = tracking_uri
        self.run_id = run_id
        self._pending: list[dict] = []
        self._logged: set[int] | None = None

    def after_report(self, run_context, metrics: list[dict], checkpoint) -> None:
        if not metrics or "epoch" not in metrics[0]:
            return
        self._pending.append(dict(metrics[0]))  # every rank reports the same (all-reduced) figures
        if checkpoint is None:
            return
        client = MlflowClient(self.tracking_uri)
        if self._logged is None:
            self._logged = {int(m.step) for m in client.get_metric_history(self.run_id, KEY)}
        ts = int(time.time() * 1000)
        batch = []
        for m in self._pending:
            epoch = int(m["epoch"])
            if epoch in self._logged:
                continue
            batch += [Metric(k, float(v), ts, epoch) for k, v in m.items()
                      if k not in NOT_LOGGED and isinstance(v, int | float)]
            self._logged.add(epoch)
        if batch:
            client.log_batch(self.run_id, metrics=batch)
        self._pending.clear()

    def after_exception(self, run_context, worker_exceptions) -> None:
        # The workers restart from the last registered checkpoint: the buffered epochs will run again.
        self._pending.clear()


def _eta(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def epoch_line(epoch: int, epochs: int, m: dict[str, float], eta_s: float | None) -> str:
    """`epoch 3/12  loss 0.0328  lr 1.2e-3  112 seq/s  knn 0.68  eta 1m40s` (epoch is 0-based)."""
    parts = [f"epoch {epoch + 1}/{epochs}", f"loss {m['loss']:.4f}"]
    if "lr" in m:
        parts.append(f"lr {m['lr']:.1e}".replace("e-0", "e-"))
    if "sequences_per_s" in m:
        parts.append(f"{m['sequences_per_s']:.0f} seq/s")
    for key, label in (("train_acc", "train"), ("val_acc", "val"), ("knn_acc", "knn")):
        if key in m:
            parts.append(f"{label} {m[key]:.2f}")
    if eta_s is not None:
        parts.append(f"eta {_eta(eta_s)}")
    return "  ".join(parts)


class EpochConsole:
    """Driver thread: prints each newly logged epoch of the run once (polls MLflow every `interval` s)."""

    def __init__(self, tracking_uri: str, run_id: str, epochs: int, interval: float = 1.0,
                 write: Callable[[str], None] | None = None):
        self.client = MlflowClient(tracking_uri)
        self.run_id, self.epochs, self.interval = run_id, epochs, interval
        self.write = write or (lambda line: print(line, flush=True))
        self._seen = {int(m.step) for m in self.client.get_metric_history(run_id, KEY)}
        self._stop = threading.Event()
        # The last poll in __exit__ may meet a thread poll still running (a slow MLflow read outlasts the
        # join): one at a time, so no epoch prints twice.
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="skelmae-epoch-console", daemon=True)
        self._t0 = time.monotonic()
        self._done0 = len(self._seen)

    def __enter__(self) -> EpochConsole:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.poll()  # the last epochs logged just before fit() returned

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - a console line is never worth failing the run
                pass

    def poll(self) -> None:
        with self._lock:
            self._poll()

    def _poll(self) -> None:
        history = self.client.get_metric_history(self.run_id, KEY)
        new = sorted({int(m.step) for m in history} - self._seen)
        if not new:
            return
        metrics: dict[int, dict[str, float]] = {e: {} for e in new}
        run = self.client.get_run(self.run_id)
        for key in run.data.metrics:
            for m in self.client.get_metric_history(self.run_id, key):
                if int(m.step) in metrics:
                    metrics[int(m.step)][key] = m.value
        for e in new:
            self._seen.add(e)
            done = len(self._seen) - self._done0
            remaining = self.epochs - 1 - max(self._seen)
            eta = (time.monotonic() - self._t0) / done * remaining if done else None
            self.write(epoch_line(e, self.epochs, metrics[e], eta))
