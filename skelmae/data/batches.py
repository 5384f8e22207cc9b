"""Batch assembly: stored variable-length rows -> fixed-length tensors, with training augmentation.

`SequenceBatcher` is the collate function of `iter_torch_batches`, so the crop/resize to T frames and
the augmentation run in each worker's data path (Ray Data's iterator), never on the driver.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch
from ray.data.collate_fn import NumpyBatchCollateFn

from data_pipeline.parquet_io import read_samples, sample_array
from skelmae.data.augment import random_rotate_scale, valid_crop_resize

COLUMNS = ["sample_id", "label", "num_frames", "joints"]


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


class SequenceBatcher(NumpyBatchCollateFn):
    """Collate function: stored rows -> fixed-length tensors, with training augmentation if `train`.

    A `NumpyBatchCollateFn` (Ray's collate class; plain functions are deprecated since Ray 2.47).
    Each sample's augmentation draws from its own generator, seeded by (`seed`, sample ID): Ray Data
    calls the collate function from several prefetch threads in no fixed order, so one generator shared
    by the batches would hand out its draws by thread timing, and a restarted epoch would differ."""

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
        self.seed = [seed] if isinstance(seed, int) else list(seed)

    def arrays(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        xs = []
        for i, (flat, t) in enumerate(zip(batch["joints"], batch["num_frames"], strict=True)):
            seq = sample_array(np.asarray(flat, dtype=np.float32), int(t))  # [t, 2, 25, 3]
            if self.train:
                rng = np.random.default_rng([*self.seed, zlib.crc32(str(batch["sample_id"][i]).encode())])
                seq = valid_crop_resize(seq, self.num_frames, self.crop, rng)
                seq = random_rotate_scale(seq, rng, self.rotate_degrees, self.scale)
            else:
                seq = valid_crop_resize(seq, self.num_frames, (self.eval_crop, self.eval_crop), None)
            xs.append(seq)
        return {"x": np.stack(xs).astype(np.float32), "label": np.asarray(batch["label"], dtype=np.int64)}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        a = self.arrays(batch)
        return {"x": torch.from_numpy(a["x"]), "label": torch.from_numpy(a["label"])}

