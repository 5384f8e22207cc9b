"""Training data: Parquet splits as Ray Datasets, the embedded synthetic dataset, batch assembly.

Workers stream their shard with `iter_torch_batches`; `SequenceBatcher` is its collate function, so
the crop/resize to T frames and the augmentation run in each worker's data path (Ray Data's
iterator), never on the driver.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.fs as pafs
import torch

from data_pipeline.parquet_io import read_samples, read_split_dataset, resolve, sample_array, samples_dir
from skelmae.data.augment import random_rotate_scale, valid_crop_resize
from skelmae.config.jobs import DataConfig

COLUMNS = ["sample_id", "label", "num_frames", "joints"]


def embedded_dataset(cfg: DataConfig) -> str:
    """The synthetic NTU-format dataset, generated and preprocessed once into the cache directory."""
    from data_pipeline.pipeline import run_preprocess
    from data_pipeline.process import PreprocessConfig
    from data_pipeline.synthetic import generate_dataset

    root = Path(os.path.expanduser(cfg.cache_dir)) / f"synthetic-n{cfg.synthetic_samples}-s{cfg.synthetic_seed}"
    out = root / "parquet"
    if (out / "manifest.json").is_file():
        return str(out)
    raw = root / "raw"
    if not raw.is_dir() or len(list(raw.glob("*.skeleton"))) < cfg.synthetic_samples:
        raw.mkdir(parents=True, exist_ok=True)
        print(f"[skelmae] generating {cfg.synthetic_samples} synthetic NTU-format files into {raw}")
        generate_dataset(str(raw), cfg.synthetic_samples, seed=cfg.synthetic_seed)
    print(f"[skelmae] preprocessing {raw} -> {out}")
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


def split_dataset(data_path: str, benchmark: str, part: str, sample_ids: list[str] | None = None,
                  in_memory_mb: float = 0.0):
    """A Ray Dataset of one benchmark split; the split is a Parquet filter, not a copy.

    A dataset whose Parquet files total less than `in_memory_mb` is read once into Ray's object store
    (still streamed to the workers every epoch) instead of being listed and re-read from storage each
    epoch, which dominates the epoch time of small datasets.
    """
    ds = read_split_dataset(data_path, benchmark, part, columns=COLUMNS, sample_ids=sample_ids)
    if in_memory_mb > 0 and dataset_size_mb(data_path) < in_memory_mb:
        ds = ds.materialize()
    return ds


def dataset_size_mb(data_path: str) -> float:
    """Total size of the dataset's sample files (local directory or object-store URI)."""
    fs, base = resolve(samples_dir(data_path))
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    return sum(i.size or 0 for i in infos if i.type == pafs.FileType.File) / 2**20


def count_split(data_path: str, benchmark: str, part: str, sample_ids: list[str] | None = None) -> int:
    if sample_ids is not None:
        return len(sample_ids)
    return read_samples(data_path, benchmark, part, columns=["label"]).num_rows


def load_split_arrays(
    data_path: str, benchmark: str, part: str, num_frames: int, eval_crop: float, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A split (or its first `limit` samples by ID) as fixed-length arrays, without Ray.

    Returns x: [N, T, 2, 25, 3] float32, labels [N] int64, sample IDs.
    """
    table = read_samples(data_path, benchmark, part, columns=COLUMNS).sort_by("sample_id")
    if limit is not None:
        table = table.slice(0, limit)
    batch = {c: table.column(c).to_numpy(zero_copy_only=False) for c in COLUMNS}
    out = SequenceBatcher(num_frames, train=False, eval_crop=eval_crop).arrays(batch)
    return out["x"], out["label"], [str(s) for s in batch["sample_id"]]


class SequenceBatcher:
    """Collate function: stored rows -> fixed-length tensors, with training augmentation if `train`."""

    def __init__(
        self,
        num_frames: int,
        train: bool,
        crop: tuple[float, float] = (0.5, 1.0),
        eval_crop: float = 0.95,
        rotate_degrees: float = 0.0,
        scale: float = 0.0,
        seed: int | list[int] = 0,
    ):
        self.num_frames = num_frames
        self.train = train
        self.crop = crop
        self.eval_crop = eval_crop
        self.rotate_degrees = rotate_degrees
        self.scale = scale
        self.rng = np.random.default_rng(seed)

    def arrays(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        xs = []
        for flat, t in zip(batch["joints"], batch["num_frames"], strict=True):
            seq = sample_array(np.asarray(flat, dtype=np.float32), int(t))  # [t, 2, 25, 3]
            if self.train:
                seq = valid_crop_resize(seq, self.num_frames, self.crop, self.rng)
                seq = random_rotate_scale(seq, self.rng, self.rotate_degrees, self.scale)
            else:
                seq = valid_crop_resize(seq, self.num_frames, (self.eval_crop, self.eval_crop), None)
            xs.append(seq)
        return {"x": np.stack(xs).astype(np.float32), "label": np.asarray(batch["label"], dtype=np.int64)}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        a = self.arrays(batch)
        return {"x": torch.from_numpy(a["x"]), "label": torch.from_numpy(a["label"])}

