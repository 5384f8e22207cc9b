"""The sequence a quick look draws: a `.skeleton` file (preprocessed like the dataset), a sample ID of a
Parquet dataset, or an array.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as pads

from data_pipeline.action_names import action_name
from data_pipeline.parquet_io import SAMPLE_SCHEMA, read_samples, resolve, sample_array, samples_dir
from data_pipeline.process import PreprocessConfig, process_file
from skelmae.track.skeleton_plot import check_sequence


def _title(sample_id: str, label: int | None) -> str:
    if label is None:
        return sample_id
    try:
        return f"{sample_id}: {action_name(label)}"
    except ValueError:
        return sample_id


def load_sequence(source: Any, data_dir: str | None = None, cfg: Any = None) -> tuple[np.ndarray, str]:
    """(data [T, M, V, 3] float32, title) from one of:

    - a `.skeleton` file path, preprocessed by `data_pipeline.process.process_file(path, cfg)`;
    - a sample ID (e.g. "S001C002P003R002A013") in the Parquet dataset at `data_dir`;
    - a numpy array or torch tensor [T, M, V, 3] (or [T, V, 3] for one actor).
    """
    if not isinstance(source, (str, os.PathLike)):
        return check_sequence(source, "source"), "array"
    src = os.fspath(source)
    if os.path.isfile(src) or src.endswith(".skeleton"):
        if not os.path.isfile(src):
            raise FileNotFoundError(f"{src}: no such .skeleton file")
        # any file name will do for a look (a new recording need not be named SsssCcccPpppRrrrAaaa)
        sample = process_file(src, cfg if cfg is not None else PreprocessConfig(), require_name=False)
        if sample.name is None:
            return check_sequence(sample.data, src), os.path.basename(src)
        return check_sequence(sample.data, src), _title(sample.name.sample_id, sample.name.label)
    if data_dir is None:
        raise FileNotFoundError(
            f"{src}: not a file; to show a sample ID, give the dataset directory (--data DIR)"
        )
    ids = read_samples(data_dir, columns=["sample_id"]).column("sample_id")  # checks the directory too
    if not pc.any(pc.equal(ids, src)).as_py():
        raise KeyError(f"sample {src!r} is not in the dataset at {data_dir}")
    # Only the one row's joints: read_samples has no row filter, and the whole joints column of NTU
    # is gigabytes. The filter is pushed down to the Parquet reader.
    fs, path = resolve(samples_dir(data_dir))
    dataset = pads.dataset(path, filesystem=fs, format="parquet", schema=SAMPLE_SCHEMA)
    table = dataset.to_table(columns=["label", "num_frames", "joints"], filter=pc.field("sample_id") == src)
    row = table.slice(0, 1).to_pylist()[0]
    data = sample_array(row["joints"], row["num_frames"])
    return check_sequence(data, src), _title(src, int(row["label"]))
