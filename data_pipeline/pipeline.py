"""Raw `.skeleton` files -> the Parquet dataset, in parallel across Ray Data workers.

list (driver) -> triage names: bad name, duplicate, missing-skeleton list, not in the release
(driver, cheap) -> read, parse, denoise, normalise, write one Parquet part per batch (Ray Data
`map_batches` tasks) -> errors table + manifest (driver). Workers write their own part files, so
the joint data never travels back through the driver; each task returns a small summary row per
file, from which the driver counts and checks that files in = rows out + errors + excluded.

A run claims the output first (data_pipeline.output_dir: only a new, empty or skelmae folder, never
overlapping the input, one run at a time), writes into a staging folder and swaps it in whole at the
end: re-running into the same output never duplicates rows, and a kill leaves the old or new dataset.
Any pyarrow filesystem works (local paths, file://, s3://, gs:// URIs).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from data_pipeline import parquet_io as pio
from data_pipeline.errors import ConfigError
from data_pipeline.heap import keep_freed_memory
from data_pipeline.listing import Listing, list_local, list_remote
from data_pipeline.ntu import DATASETS, SAMPLE_LAYOUT, load_missing
from data_pipeline.process import PreprocessConfig, ProcessedSample, SampleError, process_file
from data_pipeline.progress import Progress
from data_pipeline.redact import redact
from data_pipeline.skeleton_format import SampleName, SkeletonFormatError, parse_sample_name
from data_pipeline.splits import SPLIT_COLUMNS, in_dataset, split_membership

# Why a file produced no row. Exclusions are files the dataset itself leaves out; the rest are errors.
EXCLUDED_REASONS = ("missing_skeleton", "not_in_dataset")
ERROR_REASONS = ("bad_name", "duplicate", "unreadable", "malformed", "unusable", "unexpected")


@dataclass
class PreprocessJobConfig:
    """Command-line configuration of jobs/preprocess.py."""

    raw_dir: str = ""  # directory (or object-store URI) of .skeleton files
    out: str = ""  # output dataset directory (or URI)
    dataset: Literal["ntu60", "ntu120"] = "ntu60"
    denoise: Literal["standard", "clean"] = "standard"
    align_view: bool = False
    # denoising thresholds, as in PreprocessConfig
    min_body_frames: int = 11
    spread_ratio: float = 0.8
    noise_spread_threshold: float = 0.69754
    files_per_part: int = 0  # files per Ray task = rows per Parquet part file; 0 = automatic
    ray_address: str = ""  # empty: use the running Ray, else start a local one
    num_cpus: int = 0  # CPUs of a Ray started here; 0 = all

    def validate(self) -> None:
        if not self.raw_dir:
            raise ConfigError("raw_dir", "required (a directory of .skeleton files)")
        if "://" not in self.raw_dir and not os.path.isdir(self.raw_dir):
            raise ConfigError("raw_dir", f"no such directory {redact(self.raw_dir)!r}")
        if not self.out:
            raise ConfigError("out", "required (the output dataset directory)")
        if self.files_per_part < 0:
            raise ConfigError("files_per_part", f"must be >= 0 (0 = automatic), got {self.files_per_part}")
        if self.num_cpus < 0:
            raise ConfigError("num_cpus", f"must be >= 0, got {self.num_cpus}")
        self.preprocess_config().validate()

    def preprocess_config(self) -> PreprocessConfig:
        return PreprocessConfig(
            denoise=self.denoise,
            min_body_frames=self.min_body_frames,
            spread_ratio=self.spread_ratio,
            noise_spread_threshold=self.noise_spread_threshold,
            align_view=self.align_view,
        )


def list_raw_files(raw_dir: str, filesystem: pafs.FileSystem | None = None) -> tuple[pafs.FileSystem, str, Listing]:
    """(filesystem, base path, listing) of the `.skeleton` files under `raw_dir` (see data_pipeline.listing)."""
    fs, base = pio.resolve(raw_dir, filesystem)
    info = fs.get_file_info(base)
    if info.type == pafs.FileType.NotFound:
        raise ConfigError("raw_dir", f"no such directory {redact(raw_dir)!r}")
    if info.type != pafs.FileType.Directory:
        raise ConfigError("raw_dir", f"{redact(raw_dir)!r} is not a directory")
    listing = list_local(base) if isinstance(fs, pafs.LocalFileSystem) else list_remote(fs, base)
    if not listing.files and not listing.errors:
        raise ConfigError("raw_dir", f"{redact(raw_dir)!r} is empty: no .skeleton files")
    return fs, base, listing


def _error_category(e: BaseException) -> str:
    if isinstance(e, SampleError):
        return "unusable"
    if isinstance(e, SkeletonFormatError):
        return "malformed"
    if isinstance(e, (OSError, UnicodeDecodeError)):
        return "unreadable"
    return "unexpected"


def sample_row(s: ProcessedSample, source: str) -> dict:
    """One Parquet row (SAMPLE_SCHEMA) of a processed sample."""
    n: SampleName = s.name
    data = np.asarray(s.data, dtype=np.float32)  # [T, 2, 25, 3]
    if data.ndim != 4 or data.shape[1:] != SAMPLE_LAYOUT or data.shape[0] == 0:
        raise SampleError(f"processed data has shape {data.shape}, expected [T>0, 2, 25, 3]")
    return {
        "sample_id": n.sample_id,
        "setup": n.setup,
        "camera": n.camera,
        "subject": n.subject,
        "replication": n.replication,
        "action": n.action,
        "label": n.label,
        "num_frames": data.shape[0],
        "num_bodies": int(s.num_bodies),
        **split_membership(n),
        "joints": data,
        "denoise_info": json.dumps(s.info, sort_keys=True, default=str),
        "source": source,
    }


SUMMARY_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("sample_id", pa.string()),
        ("category", pa.string()),  # "ok" or an error reason
        ("reason", pa.string()),
        ("digest", pa.string()),
        ("num_bodies", pa.int8()),
        *[(c, pa.string()) for c in SPLIT_COLUMNS],
    ]
)


def process_paths(
    paths: list[str],
    files: list[str],
    cfg: PreprocessConfig,
    filesystem: pafs.FileSystem | None,
    part_dir: str,
    write_fs: pafs.FileSystem,
) -> pa.Table:
    """Process a batch of files, write their rows as one Parquet part, return one summary row per file.

    Any failure of one file becomes that file's error row; the batch goes on.
    """
    keep_freed_memory()  # this process runs file after file: reuse freed memory, no fresh pages each file
    rows: list[dict] = []
    summary: list[dict] = []
    for path, rel in zip(paths, files, strict=True):
        try:
            row = sample_row(process_file(path, cfg, filesystem=filesystem), source=rel)
        except Exception as e:  # noqa: BLE001 - one bad file must never stop the job
            cat = _error_category(e)
            summary.append({"file": rel, "category": cat, "reason": f"{cat}: {e}"})
            continue
        rows.append(row)
        summary.append(
            {
                "file": rel,
                "sample_id": row["sample_id"],
                "category": "ok",
                "digest": pio.row_digest(row),
                "num_bodies": row["num_bodies"],
                **{c: row[c] for c in SPLIT_COLUMNS},
            }
        )
    if rows:
        # Named by content, so a retried task overwrites its own part instead of adding one.
        key = hashlib.sha1("\n".join(r["sample_id"] for r in rows).encode()).hexdigest()[:20]
        pio.write_table_file(pio.rows_to_table(rows), f"{part_dir}/part-{key}.parquet", write_fs)
    return pa.Table.from_pylist(summary, schema=SUMMARY_SCHEMA)


def _process_batch(batch: pa.Table, cfg, filesystem, part_dir, write_fs) -> pa.Table:
    return process_paths(
        batch.column("path").to_pylist(), batch.column("file").to_pylist(), cfg, filesystem, part_dir, write_fs
    )


def _triage(files: list[tuple[str, str]], dataset: str) -> tuple[list[tuple[str, str]], list[dict], Counter]:
    """Split the listing into work (path, relative name) and driver-side errors/exclusions."""
    missing = load_missing(dataset)
    todo: list[tuple[str, str]] = []
    errors: list[dict] = []
    reasons: Counter = Counter()
    seen: dict[str, str] = {}
    for path, rel in files:
        try:
            name = parse_sample_name(os.path.basename(path))
        except SkeletonFormatError as e:
            errors.append({"file": rel, "reason": f"bad_name: {e}"})
            reasons["bad_name"] += 1
            continue
        if name.sample_id in seen:
            reason = f"duplicate: sample {name.sample_id} already read from {seen[name.sample_id]}"
            errors.append({"file": rel, "reason": reason})
            reasons["duplicate"] += 1
            continue
        seen[name.sample_id] = rel
        if name.sample_id in missing:
            reasons["missing_skeleton"] += 1
        elif not in_dataset(name, dataset):
            reasons["not_in_dataset"] += 1
        else:
            todo.append((path, rel))
    return todo, errors, reasons


def auto_files_per_part(num_files: int, cpus: int) -> int:
    """About four tasks per CPU, so the last tasks do not leave cores idle; 8..512 files per part.

    Ray Data leaves each CPU idle ~0.15-0.2 s between two tasks (its scheduling loop must see one end
    and fetch its output's metadata before it starts the next; measured, Ray 2.60, 2 cores): ~10% of a
    256-file task (~1.8 s), ~5% of a 512-file one. Larger parts would cut it further but hold more
    rows in a worker's memory (~0.3 MB a file until the part is written) and lose more work to a retry.
    A Ray Data actor pool has no such gap, but Ray 2.60 prints an error line for each pool it starts
    (ray-project/ray#57733), which every preprocessing run would show."""
    return max(8, min(512, -(-num_files // (4 * max(1, cpus)))))


def _load_reader() -> None:
    """Run each compiled loop once on a tiny input: numba loads a loop's machine code at its first call."""
    from data_pipeline import denoise
    from data_pipeline.skeleton_format import parse_skeleton_bytes

    parse_skeleton_bytes(b"0\n")
    denoise._motion(np.zeros((1, 1, 3), dtype=np.float32))


def _warm_workers(ray, n: int) -> list:
    """Load the compiled loops (data_pipeline.compiled, ~1.2 s a process) in n workers now, while the driver
    plans the dataset (~4 s before Ray Data's first task): the map tasks then run in those same
    worker processes (Ray reuses a job's idle workers) and start reading at once. The tasks are not
    waited for; a map task that finds its CPU still busy with one waits as it would have loaded."""
    load = ray.remote(num_cpus=1)(_load_reader)
    return [load.remote() for _ in range(n)]


def _ensure_ray(address: str | None = None, num_cpus: int | None = None):
    """Join the running Ray (`address`, RAY_ADDRESS or the one `ray start` left), else start one for this job.

    A Ray started here lives only as long as the job, so it starts without the dashboard: its head and
    module processes cost ~4-6 CPU seconds at start-up, which on a small machine is wall time before the
    first file is read (ray.init waits for it), and ~0.04 CPU/s while the files are processed (measured
    with benchmarks/bench_preprocess.py, 2 cores). To watch a run on the dashboard, `ray start --head` and
    run the job against that cluster: Ray ignores include_dashboard when it joins one."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address or None, num_cpus=num_cpus or None, configure_logging=False,
                 include_dashboard=False)
    return ray


def run_preprocess(
    raw_dir: str,
    out_dir: str,
    dataset: str = "ntu60",
    cfg: PreprocessConfig | None = None,
    files_per_part: int | None = None,
    filesystem: pafs.FileSystem | None = None,
    ray_address: str | None = None,
    num_cpus: int | None = None,
) -> dict:
    """Preprocess every file under `raw_dir` into the Parquet dataset `out_dir`; returns the manifest.

    `filesystem` (a pyarrow filesystem) is used for both paths if given; otherwise each may be a local
    path or a URI. Ray is started only if it is not running already.
    """
    t0 = time.perf_counter()
    cfg = cfg if cfg is not None else PreprocessConfig()
    if dataset not in DATASETS:
        raise ConfigError("dataset", f"must be one of {list(DATASETS)}, got {dataset!r}")
    if files_per_part is not None and files_per_part < 0:
        raise ConfigError("files_per_part", f"must be >= 0 (0 = automatic), got {files_per_part}")
    cfg.validate()
    in_fs, base, listing = list_raw_files(raw_dir, filesystem)
    with pio.claim_output(out_dir, filesystem, inputs=(raw_dir,)):
        return _run(listing, in_fs, raw_dir, out_dir, dataset, cfg, files_per_part, filesystem, ray_address,
                    num_cpus, t0)


def _run(listing: Listing, in_fs, raw_dir, out_dir, dataset, cfg, files_per_part, filesystem, ray_address,
         num_cpus, t0) -> dict:
    out_fs, out = pio.resolve(out_dir, filesystem)
    todo, errors, reasons = _triage(listing.files, dataset)
    for e in listing.errors:
        errors.append(e)
        reasons[e["reason"].split(":", 1)[0]] += 1
    t_list = time.perf_counter()

    staging = pio.new_staging(out_fs, out)
    part_dir = f"{staging}/{pio.SAMPLES}"
    read_fs = None if isinstance(in_fs, pafs.LocalFileSystem) else in_fs

    summary = pa.Table.from_pylist([], schema=SUMMARY_SCHEMA)
    if todo:
        ray = _ensure_ray(ray_address, num_cpus)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        per_part = files_per_part or auto_files_per_part(len(todo), cpus)
        # Only when every CPU will run map tasks: a warm-up leaving a CPU free could send the first map task
        # to another worker, which would then load the loops again.
        parts = -(-len(todo) // per_part)
        warming = _warm_workers(ray, cpus) if parts >= cpus else []  # noqa: F841 - held until the end
        # Ray Data sizes its CPU budget from its autoscaling coordinator (an actor started with the
        # first dataset): until that actor answers it runs one task at a time (log: "Active & requested
        # resources: 1/0 CPU"), ~1.5-5 s here, longer on a loaded machine. A placement group as the
        # scheduling strategy gives the CPUs at once but a zero object-store budget, which drops it back
        # to one task after the first outputs (measured, Ray 2.60).
        ds = ray.data.from_items(
            [{"path": p, "file": r} for p, r in todo],
            override_num_blocks=max(1, -(-len(todo) // per_part)),
        )
        ds = ds.map_batches(
            _process_batch,
            batch_size=per_part,
            batch_format="pyarrow",
            fn_kwargs={"cfg": cfg, "filesystem": read_fs, "part_dir": part_dir, "write_fs": out_fs},
            num_cpus=1,
        )
        # Each part's summary (a row per file) comes back as it finishes: the count drives the progress
        # lines when the console is piped (in a terminal Ray Data's own bar shows).
        tables = []
        with Progress("preprocess", len(todo), "files", bar=False) as progress:
            for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                tables.append(table.cast(SUMMARY_SCHEMA))
                progress.update_to(progress.done + table.num_rows)
        summary = pa.concat_tables(tables) if tables else summary
    t_work = time.perf_counter()

    rows = summary.to_pylist()
    ok = [r for r in rows if r["category"] == "ok"]
    for r in rows:
        if r["category"] != "ok":
            errors.append({"file": r["file"], "reason": r["reason"]})
            reasons[r["category"]] += 1
    if len(rows) != len(todo):
        raise RuntimeError(f"pipeline lost files: {len(todo)} sent to workers, {len(rows)} reported back")

    n_excluded = sum(reasons[k] for k in EXCLUDED_REASONS)
    counts = {
        "files_in": len(listing.files) + len(listing.errors),
        "rows_out": len(ok),
        "errors": len(errors),
        "excluded": n_excluded,
        "skipped_by_reason": {k: reasons[k] for k in EXCLUDED_REASONS + ERROR_REASONS if reasons[k]},
        "ignored_names": listing.ignored,  # not `.skeleton` names, hidden, or folders reached twice: not inputs
    }
    if counts["files_in"] != counts["rows_out"] + counts["errors"] + counts["excluded"]:
        raise RuntimeError(f"file accounting does not add up: {counts}")

    manifest = {
        "schema_version": pio.SCHEMA_VERSION,
        "kind": "preprocess",
        "dataset": dataset,
        "config": {"dataset": dataset, **dataclasses.asdict(cfg)},
        "counts": counts,
        "splits": pio.split_counts(ok),
        "num_bodies": {str(k): v for k, v in sorted(Counter(r["num_bodies"] for r in ok).items())},
        "columns": pio.SAMPLE_SCHEMA.names,
        "data_digest": pio.rows_digest([r["sample_id"] for r in ok], [r["digest"] for r in ok]),
        "raw_dir": redact(raw_dir),
        "out_dir": redact(out_dir),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    errors_table = pa.Table.from_pylist(sorted(errors, key=lambda e: e["file"]), schema=pio.ERROR_SCHEMA)
    manifest["timings"] = {
        "list_s": round(t_list - t0, 3),
        "process_s": round(t_work - t_list, 3),
        "total_s": round(time.perf_counter() - t0, 3),
    }
    pio.publish(staging, out, errors_table, manifest, out_fs)
    return manifest

