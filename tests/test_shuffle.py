"""Training data is shuffled every epoch, reproducibly for a seed: through Ray Data's local shuffle buffer
(seeded by seed, epoch and rank) and, for datasets streamed from storage, the order of the Parquet parts."""

from __future__ import annotations

import torch

from skelmae.config.jobs import PretrainConfig
from skelmae.config.loader import load_config
from skelmae.data.datasets import split_datasets
from skelmae.train.loops import _epoch_batches


def _cfg(data: str, shuffle_buffer: int) -> PretrainConfig:
    return load_config(PretrainConfig, ["--data.path", data, "--model.num_frames", "16", "--optim.batch_size", "8",
                                        "--data.shuffle_buffer", str(shuffle_buffer)])


def _labels(ds, cfg: PretrainConfig, epoch: int, seed: int = 0) -> list[int]:
    """The order in which one worker's epoch sees the training samples (by label)."""
    batches = _epoch_batches(ds, cfg, epoch, 0, torch.device("cpu"), seed)
    return [int(v) for b in batches for v in b["label"]]


def _in_memory(data: str):
    ds = split_datasets(data, "ntu60-xsub", {"train": "train"}, in_memory_mb=512)["train"]
    ds.context.execution_options.preserve_order = True  # as Ray Train's ingest does (ordered_data_config)
    return ds


def test_each_epoch_is_a_new_seeded_order(ray_local, synthetic_dataset):
    ds = _in_memory(synthetic_dataset)
    cfg = _cfg(synthetic_dataset, 2000)
    first, second = _labels(ds, cfg, 0), _labels(ds, cfg, 1)
    assert len(first) == len(second) > 0 and first != second
    # The same (seed, epoch) gives the same order, also from a dataset read again (a restarted run).
    again = _in_memory(synthetic_dataset)
    assert _labels(again, cfg, 1) == second
    assert _labels(ds, cfg, 1, seed=1) != second
    # Without the buffer every epoch is the file order: what the buffer's shuffling is measured against.
    plain = _cfg(synthetic_dataset, 0)
    assert _labels(ds, plain, 0) == _labels(ds, plain, 1)


def test_streamed_dataset_reads_its_parts_in_a_new_seeded_order_each_epoch(ray_local, synthetic_dataset):
    plain = _cfg(synthetic_dataset, 0)  # no buffer: only the part order can change

    def epochs(seed: int | None, n: int) -> list[list[int]]:
        ds = split_datasets(synthetic_dataset, "ntu60-xsub", {"train": "train"}, shuffle_seed=seed)["train"]
        ds.context.execution_options.preserve_order = True
        return [_labels(ds, plain, e) for e in range(n)]

    a = epochs(5, 3)
    assert len(a[0]) == len(a[1]) > 0 and len({tuple(e) for e in a}) == 3
    assert epochs(5, 1) == a[:1]  # a new run with the same seed starts with the same order
    unshuffled = epochs(None, 2)
    assert unshuffled[0] == unshuffled[1]
