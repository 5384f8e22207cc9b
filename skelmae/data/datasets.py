"""Training data: Parquet splits as Ray Datasets, the embedded synthetic dataset, label subsets.

Workers stream their shard with `iter_torch_batches` and `skelmae.data.batches.SequenceBatcher` as
its collate function.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pyarrow.fs as pafs

from data_pipeline.parquet_io import MANIFEST, read_samples, read_split_dataset, resolve, samples_dir
from data_pipeline.pipeline import run_preprocess
from data_pipeline.process import PreprocessConfig
from data_pipeline.synthetic import generate_dataset
from skelmae import console
from skelmae.config.jobs import DataConfig
from skelmae.data.batches import COLUMNS

log = logging.getLogger(__name__)
IN_MEMORY_BLOCKS = 16


def embedded_dataset(cfg: DataConfig) -> str:
    """The synthetic NTU-format dataset, generated and preprocessed once into the cache directory."""
    root = Path(os.path.expanduser(cfg.cache_dir)) / f"synthetic-n{cfg.synthetic_samples}-s{cfg.synthetic_seed}"
    out = root / "parquet"
    if (out / MANIFEST).is_file():
        return str(out)
    raw = root / "raw"
    if not raw.is_dir() or len(list(raw.glob("*.skeleton"))) < cfg.synthetic_samples:
        raw.mkdir(parents=True, exist_ok=True)
        log.info("generating %d synthetic NTU-format files into %s", cfg.synthetic_samples, raw)
        generate_dataset(str(raw), cfg.synthetic_samples, seed=cfg.synthetic_seed)
    log.info("preprocessing %s -> %s", raw, out)
    console.init_ray()  # before the pipeline starts Ray, so Ray starts in the console's mode
    run_preprocess(str(raw), str(out), dataset="ntu60", cfg=PreprocessConfig())
    return str(out)


def resolve_data_path(cfg: DataConfig) -> str:
    return cfg.path if cfg.path else embedded_dataset(cfg)


def label_subset(data_path: str, benchmark: str, fraction: float, seed: int) -> list[str] | None:
    """Sample IDs of a per-class `fraction` of the training split (at least one per class)."""
    if fraction >= 1.0:
        return None
    table = read_samples(data_path, benchmark, "train", columns=["sample_id", "label"])
    ids = np.asarray(table.column("sample_id").to_pylist())
    labels = table.column("label").to_numpy()
    rng = np.random.default_rng(seed)
    keep: list[str] = []
    for c in np.unique(labels):
        members = np.sort(ids[labels == c])
        n = max(1, int(round(fraction * len(members))))
        keep.extend(rng.choice(members, size=n, replace=False).tolist())
    return sorted(keep)


def split_datasets(data_path: str, benchmark: str, parts: dict[str, str], train_ids: list[str] | None = None,
                   in_memory_mb: float = 0.0, shuffle_seed: int | None = None) -> dict:
    """Ray Datasets of benchmark splits by name ({"train": "train", "knn_val": "test"}, ...); a split is a
    Parquet filter, not a copy. `train_ids` (label-fraction sample IDs) restrict the one named "train".

    A dataset whose Parquet files total less than `in_memory_mb` is read here, with pyarrow, and handed
    to Ray's object store in file order (streamed to the workers every epoch from there): no re-reading
    from storage each epoch, and none of Ray Data's read start-up (3-7 s a split), which dominated small
    runs. A split under two names (the training split as "train" and "knn_train") is read and stored
    once. Larger datasets stream from storage, the one named "train" reading its Parquet parts in a new
    order each epoch when `shuffle_seed` is given.
    """
    import ray

    in_memory = in_memory_mb > 0 and dataset_size_mb(data_path) < in_memory_mb
    blocks: dict[tuple[str, bool], list] = {}
    out = {}
    for name, part in parts.items():
        ids = train_ids if name == "train" else None
        if in_memory:
            key = (part, ids is not None)
            if key not in blocks:
                blocks[key] = _object_store_blocks(read_samples(data_path, benchmark, part, columns=COLUMNS,
                                                                sample_ids=ids))
            out[name] = ray.data.from_arrow_refs(blocks[key])
        else:
            out[name] = read_split_dataset(data_path, benchmark, part, columns=COLUMNS, sample_ids=ids,
                                           shuffle_seed=shuffle_seed if name == "train" else None)
    return out


def _object_store_blocks(table) -> list:
    """The table in Ray's object store as several blocks, so that streaming_split can hand each worker its
    share without copying."""
    import ray

    rows = max(1, -(-table.num_rows // IN_MEMORY_BLOCKS))
    return [ray.put(table.slice(i, rows)) for i in range(0, max(table.num_rows, 1), rows)]


def dataset_size_mb(data_path: str) -> float:
    """Total size of the dataset's sample files (local directory or object-store URI)."""
    fs, base = resolve(samples_dir(data_path))
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    return sum(i.size or 0 for i in infos if i.type == pafs.FileType.File) / 2**20


def count_split(data_path: str, benchmark: str, part: str, sample_ids: list[str] | None = None) -> int:
    if sample_ids is not None:
        return len(sample_ids)
    return read_samples(data_path, benchmark, part, columns=["label"]).num_rows
