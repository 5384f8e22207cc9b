"""The processed dataset on disk: one Parquet table of samples, an errors table, a JSON manifest.

    DATA/samples/*.parquet   one row per sample (SAMPLE_SCHEMA)
    DATA/errors.parquet      (file, reason) of every input no rule could use
    DATA/manifest.json       counts in/out/skipped by reason, schema version, config, content digest

Joints are a flat `list<float32>` plus `num_frames` rather than a tensor column: Ray's tensor
extension type reads back in plain pyarrow as an opaque list and pandas loses the shape, while a
flat list reads the same everywhere. Reading one benchmark split is a filter on its split column
(pushed down to the Parquet reader), never a copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from data_pipeline import output_dir
from data_pipeline.errors import ConfigError
from data_pipeline.ntu import SAMPLE_LAYOUT
from data_pipeline.redact import redact

SCHEMA_VERSION = 1
_JOINTS_SHAPE = "[num_frames, {}, {}, {}]".format(*SAMPLE_LAYOUT)  # "[num_frames, 2, 25, 3]"

BENCHMARKS: dict[str, str] = {
    "ntu60-xsub": "ntu60_xsub",
    "ntu60-xview": "ntu60_xview",
    "ntu120-xsub": "ntu120_xsub",
    "ntu120-xset": "ntu120_xset",
}
PARTS = ("train", "test")

SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.string(), nullable=False),
        pa.field("setup", pa.int16()),
        pa.field("camera", pa.int16()),
        pa.field("subject", pa.int16()),
        pa.field("replication", pa.int16()),
        pa.field("action", pa.int16()),
        pa.field("label", pa.int16(), nullable=False),
        pa.field("num_frames", pa.int32(), nullable=False),
        pa.field("num_bodies", pa.int8(), nullable=False),
        pa.field("ntu60_xsub", pa.string()),
        pa.field("ntu60_xview", pa.string()),
        pa.field("ntu120_xsub", pa.string()),
        pa.field("ntu120_xset", pa.string()),
        pa.field("joints", pa.list_(pa.float32()), nullable=False),  # flat C-order [num_frames, 2, 25, 3]
        pa.field("denoise_info", pa.string()),
        pa.field("source", pa.string()),
    ],
    metadata={"skelmae.schema_version": str(SCHEMA_VERSION), "skelmae.joints_shape": _JOINTS_SHAPE},
)
ERROR_SCHEMA = pa.schema([pa.field("file", pa.string()), pa.field("reason", pa.string())])

SAMPLES = "samples"
ERRORS = "errors.parquet"
MANIFEST = "manifest.json"
# Manifest keys that describe one particular run, not the data: left out of manifest_hash.
VOLATILE_KEYS = ("created_at", "timings", "raw_dir", "out_dir", "source_paths")


def resolve(path: str, filesystem: pafs.FileSystem | None = None) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path within it) for a local path or an object-store URI (s3://, gs://, file://)."""
    if filesystem is not None:
        return filesystem, path
    if "://" in path:
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), path


def _join(base: str, *parts: str) -> str:
    # URIs always join with "/"; local paths with the platform's separator
    return posixpath.join(base.rstrip("/"), *parts) if "://" in base else os.path.join(base, *parts)


def samples_dir(data_dir: str) -> str:
    """The directory of sample Parquet files, as a path or URI like `data_dir`."""
    return _join(data_dir, SAMPLES)


def errors_path(data_dir: str) -> str:
    return _join(data_dir, ERRORS)


def manifest_path(data_dir: str) -> str:
    return _join(data_dir, MANIFEST)


def benchmark_column(benchmark: str) -> str:
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r} (known: {', '.join(BENCHMARKS)})")
    return BENCHMARKS[benchmark]


def split_filter(benchmark: str, part: str) -> pc.Expression:
    """Row filter of one split part, for pq.read_table(filters=) and pyarrow datasets."""
    column = benchmark_column(benchmark)
    if part not in PARTS:
        raise ValueError(f"split part must be one of {PARTS}, got {part!r}")
    return pc.field(column) == part


def ray_split_filter(benchmark: str, part: str, sample_ids: list[str] | None = None):
    """The split filter as a Ray Data expression, for `ray.data.read_parquet(...).filter(expr=)`.

    Ray 2.60 refuses `read_parquet(filter=<pyarrow expression>)`; its optimiser pushes this
    expression down into the Parquet read instead.
    """
    from ray.data.expressions import col

    if part not in PARTS:
        raise ValueError(f"split part must be one of {PARTS}, got {part!r}")
    expr = col(benchmark_column(benchmark)) == part
    if sample_ids is not None:
        expr = expr & col("sample_id").is_in(list(sample_ids))
    return expr


def read_split_dataset(
    data_dir: str,
    benchmark: str,
    part: str,
    columns: list[str] | None = None,
    sample_ids: list[str] | None = None,
    shuffle_seed: int | None = None,
):
    """One split part as a Ray Dataset (filtered on read, not copied).

    With `shuffle_seed`, every execution (every epoch) reads the Parquet parts in a different order,
    drawn from the seed and the execution's index.
    """
    import ray
    from ray.data import FileShuffleConfig

    shuffle = FileShuffleConfig(seed=shuffle_seed) if shuffle_seed is not None else None
    # Reading is light work: a quarter CPU per read task keeps the data path schedulable beside
    # training workers that hold most of a small node's CPUs (whole-CPU tasks would deadlock).
    ds = ray.data.read_parquet(samples_dir(data_dir), num_cpus=0.25, shuffle=shuffle)
    ds = ds.filter(expr=ray_split_filter(benchmark, part, sample_ids))
    return ds.select_columns(columns) if columns is not None else ds


def read_samples(
    data_dir: str,
    benchmark: str | None = None,
    part: str | None = None,
    columns: list[str] | None = None,
    filesystem: pafs.FileSystem | None = None,
    sample_ids: list[str] | None = None,
) -> pa.Table:
    """Sample rows of the dataset, or of one benchmark (both parts) or one split part, with plain pyarrow;
    in the order of the Parquet parts; `sample_ids` keeps only those samples."""
    if part is not None and benchmark is None:
        raise ValueError("a split part needs a benchmark")
    if benchmark is not None and part is None:
        expr = pc.field(benchmark_column(benchmark)).is_valid()
    elif benchmark is not None:
        expr = split_filter(benchmark, part)
    else:
        expr = None
    if sample_ids is not None:
        keep = pc.field("sample_id").isin(pa.array(list(sample_ids), pa.string()))
        expr = keep if expr is None else expr & keep
    fs, path = resolve(samples_dir(data_dir), filesystem)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        raise FileNotFoundError(f"{data_dir}: no '{SAMPLES}' directory (not a dataset written by jobs/preprocess.py)")
    dataset = pads.dataset(path, filesystem=fs, format="parquet", schema=SAMPLE_SCHEMA)
    return dataset.to_table(columns=columns, filter=expr)


def read_errors(data_dir: str, filesystem: pafs.FileSystem | None = None) -> pa.Table:
    fs, path = resolve(errors_path(data_dir), filesystem)
    return pq.read_table(path, filesystem=fs)


def sample_array(joints_flat, num_frames: int) -> np.ndarray:
    """A stored row's joints as data: [T, 2, 25, 3] float32."""
    return np.asarray(joints_flat, dtype=np.float32).reshape(int(num_frames), *SAMPLE_LAYOUT)


def read_manifest(data_dir: str, filesystem: pafs.FileSystem | None = None) -> dict:
    fs, path = resolve(manifest_path(data_dir), filesystem)
    try:
        with fs.open_input_stream(path) as fh:
            return json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{data_dir}: no {MANIFEST} (not a finished dataset directory)") from None


def manifest_hash(data_dir: str, filesystem: pafs.FileSystem | None = None) -> str:
    """Identity of the dataset's content and config (sha256 hex), independent of when or where it ran."""
    manifest = read_manifest(data_dir, filesystem)
    stable = {k: v for k, v in manifest.items() if k not in VOLATILE_KEYS}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()


def rows_digest(sample_ids, row_digests) -> str:
    """Order-independent digest of a dataset's rows, from each row's own digest."""
    h = hashlib.sha256()
    for sid, d in sorted(zip(sample_ids, row_digests, strict=True)):
        h.update(f"{sid}:{d}\n".encode())
    return h.hexdigest()


def row_digest(row: dict) -> str:
    h = hashlib.sha1(str(row["sample_id"]).encode())
    h.update(f"|{row['label']}|{row['num_frames']}|{row['num_bodies']}|".encode())
    h.update(np.ascontiguousarray(row["joints"], dtype=np.float32).tobytes())
    return h.hexdigest()


def write_table_file(table: pa.Table, path: str, fs: pafs.FileSystem) -> None:
    """Write one Parquet file so that a reader never sees a half-written one at `path`."""
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    # No dictionary for float lists (the joints): nearly every value is distinct, so the default
    # dictionary attempt costs ~5x the rest of writing and leaves a bigger file (measured in
    # benchmarks/bench_preprocess.py: 2.6 -> 0.5 ms and 63 -> 37 KB a row).
    dictionary = [f.name for f in table.schema if not (pa.types.is_list(f.type) or pa.types.is_floating(f.type))]
    pq.write_table(table, tmp, filesystem=fs, compression="zstd", use_dictionary=dictionary)
    fs.move(tmp, path)


def write_json_file(obj: dict, path: str, fs: pafs.FileSystem) -> None:
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    with fs.open_output_stream(tmp) as fh:
        fh.write(json.dumps(obj, indent=2, sort_keys=True).encode("utf-8"))
    fs.move(tmp, path)


def _is_local(fs: pafs.FileSystem) -> bool:
    return isinstance(fs, pafs.LocalFileSystem)


def publish(staging: str, data_dir: str, errors: pa.Table, manifest: dict, fs: pafs.FileSystem) -> None:
    """Make a finished run's output (samples in `staging/samples`) the dataset at `data_dir`.

    Local folders: the errors table and manifest complete the staging folder, which is then swapped
    in whole (output_dir.swap_in): a kill at any moment leaves the old dataset or the new one. Object
    stores cannot rename: the old manifest goes first, so a reader never takes a half-replaced folder
    for a finished one, the samples are copied over, and the new manifest is written last.
    """
    if _is_local(fs):
        write_table_file(errors.cast(ERROR_SCHEMA), _join(staging, ERRORS), fs)
        write_json_file(manifest, _join(staging, MANIFEST), fs)
        output_dir.swap_in(staging, data_dir)
        return
    fs.create_dir(data_dir, recursive=True)
    old_manifest = _join(data_dir, MANIFEST)
    if fs.get_file_info(old_manifest).type == pafs.FileType.File:
        fs.delete_file(old_manifest)
    target = _join(data_dir, SAMPLES)
    if fs.get_file_info(target).type == pafs.FileType.Directory:
        fs.delete_dir(target)
    fs.create_dir(target, recursive=True)
    for info in fs.get_file_info(pafs.FileSelector(_join(staging, SAMPLES))):
        fs.copy_file(info.path, _join(target, info.base_name))
    write_table_file(errors.cast(ERROR_SCHEMA), _join(data_dir, ERRORS), fs)
    write_json_file(manifest, old_manifest, fs)
    if fs.get_file_info(staging).type == pafs.FileType.Directory:
        fs.delete_dir(staging)


def rows_to_table(rows: list[dict]) -> pa.Table:
    """Sample rows (dicts with `joints` as any float array) -> a table in SAMPLE_SCHEMA."""
    cols: dict[str, list] = {f.name: [] for f in SAMPLE_SCHEMA}
    for r in rows:
        for name in cols:
            v = r.get(name)
            if name == "joints":
                v = np.ascontiguousarray(v, dtype=np.float32).ravel()
            cols[name].append(v)
    arrays = []
    for f in SAMPLE_SCHEMA:
        if f.name == "joints":
            flat = np.concatenate(cols["joints"]) if rows else np.zeros(0, np.float32)
            offsets = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum([len(j) for j in cols["joints"]], out=offsets[1:])
            # list<float32> needs int32 offsets: fine up to 2^31 floats per file (files are small)
            arrays.append(pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(flat)))
        else:
            arrays.append(pa.array(cols[f.name], type=f.type))
    return pa.Table.from_arrays(arrays, schema=SAMPLE_SCHEMA)


STAGING_PREFIX = ".staging-"


def check_remote_target(fs: pafs.FileSystem, out: str, shown: str) -> None:
    """Refuse an object-store `out` that holds anything but a dataset of ours (see output_dir for local)."""
    if fs.get_file_info(out).type == pafs.FileType.NotFound:
        return
    names = {i.base_name for i in fs.get_file_info(pafs.FileSelector(out))}
    if not names:
        return
    foreign = sorted(n for n in names if n not in output_dir.OURS and not n.startswith(STAGING_PREFIX))
    manifest = None
    try:
        manifest = read_manifest(out, fs)
    except (FileNotFoundError, ValueError):
        pass
    if foreign or not isinstance(manifest, dict) or manifest.get("kind") not in output_dir.MANIFEST_KINDS:
        what = ", ".join(foreign[:5]) or "no manifest of ours"
        raise ConfigError("out", f"{shown!r} is not empty and not a skelmae dataset ({what}); nothing was touched")


@contextlib.contextmanager
def claim_output(out_dir: str, filesystem: pafs.FileSystem | None = None, inputs: tuple[str, ...] = (),
                 field: str = "raw_dir"):
    """For the block, `out_dir` is ours to replace (output_dir.claim locally; a content check on object stores)."""
    fs, out = resolve(out_dir, filesystem)
    if _is_local(fs):
        local_inputs = tuple(path for in_fs, path in (resolve(i, filesystem) for i in inputs) if _is_local(in_fs))
        with output_dir.claim(out, local_inputs, field):
            yield
    else:
        check_remote_target(fs, out, redact(out_dir))
        yield


def new_staging(fs: pafs.FileSystem, out: str) -> str:
    """A fresh staging folder with its empty samples/: beside a local `out`, inside an object-store one."""
    if _is_local(fs):
        return output_dir.new_staging(out)
    staging = f"{out.rstrip('/')}/{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    fs.create_dir(f"{staging}/{SAMPLES}", recursive=True)
    return staging


def split_counts(rows: list[dict]) -> dict[str, dict[str, int]]:
    """{benchmark: {"train": n, "test": n}} over rows carrying the split columns."""
    out: dict[str, dict[str, int]] = {}
    for bench, column in BENCHMARKS.items():
        parts = [r[column] for r in rows if r.get(column) is not None]
        if parts:
            out[bench] = {p: parts.count(p) for p in PARTS}
    return out


class DatasetWriter:
    """Writes sample rows part by part into a staging directory, then publishes the dataset.

    Used where rows come from one process (the importers); the Ray pipeline writes parts from its
    workers and publishes with the same `publish`.
    """

    def __init__(self, data_dir: str, filesystem: pafs.FileSystem | None = None, rows_per_part: int = 256):
        self.fs, self.out = resolve(data_dir, filesystem)
        self.staging = new_staging(self.fs, self.out)
        self.rows_per_part = rows_per_part
        self._buffer: list[dict] = []
        self._parts = 0
        self.summary: list[dict] = []  # per written row: sample_id, digest, split columns, num_bodies

    def add(self, row: dict) -> None:
        self.summary.append(
            {
                "sample_id": row["sample_id"],
                "digest": row_digest(row),
                "num_bodies": int(row["num_bodies"]),
                **{c: row.get(c) for c in BENCHMARKS.values()},
            }
        )
        self._buffer.append(row)
        if len(self._buffer) >= self.rows_per_part:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            path = f"{self.staging}/{SAMPLES}/part-{self._parts:05d}.parquet"
            write_table_file(rows_to_table(self._buffer), path, self.fs)
            self._parts += 1
            self._buffer = []

    def finish(self, errors: list[dict], manifest: dict) -> dict:
        """Publish; `manifest` gets the row-derived fields (splits, digest, ...) added and is returned."""
        self._flush()
        manifest = dict(manifest)
        manifest.setdefault("schema_version", SCHEMA_VERSION)
        manifest["columns"] = SAMPLE_SCHEMA.names
        manifest["splits"] = split_counts(self.summary)
        bodies: dict[str, int] = {}
        for r in self.summary:
            bodies[str(r["num_bodies"])] = bodies.get(str(r["num_bodies"]), 0) + 1
        manifest["num_bodies"] = dict(sorted(bodies.items()))
        ids, digests = [r["sample_id"] for r in self.summary], [r["digest"] for r in self.summary]
        manifest["data_digest"] = rows_digest(ids, digests)
        table = pa.Table.from_pylist(sorted(errors, key=lambda e: e["file"]), schema=ERROR_SCHEMA)
        publish(self.staging, self.out, table, manifest, self.fs)
        return manifest
