"""Export one benchmark of the Parquet dataset in the array layouts the field's training code reads.

- `ctrgcn-npz`: `x_train`/`x_test` float32 [N, 300, 150] (frame = actor 1's 25 xyz then actor 2's,
  zero-padded in time), one-hot `y_train`/`y_test` float32 [N, classes]. Samples are ordered as the
  standard scripts order them: looping over the split's subject (camera, setup) list in list order
  and taking each ID's samples in name order. Rows without that ID (imported without names) follow,
  in sample_id order.
- `stgcn-npy`: `{train,val}_data_joint.npy` float32 [N, 3, 300, 25, 2] and `{train,val}_label.pkl` =
  (sample names with `.skeleton`, labels), samples in name order, as ST-GCN's gendata writes them.

Sequences longer than `max_frames` are truncated (counted, with a warning).
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
import zipfile
from typing import Literal

import numpy as np
import pyarrow as pa

from data_pipeline import parquet_io as pio
from data_pipeline.ntu import FRAME_VALUES, MAX_BODIES, NUM_COORDS, NUM_JOINTS, SAMPLE_LAYOUT, num_classes
from data_pipeline.splits import SPLIT_RULES, split_order

FORMATS = ("ctrgcn-npz", "stgcn-npy")
MAX_FRAMES = 300
CHUNK = 256  # samples assembled in memory at a time


def benchmark_num_classes(benchmark: str) -> int:
    dataset = SPLIT_RULES[pio.benchmark_column(benchmark)][0]
    return num_classes(dataset)


def export_order(table: pa.Table, benchmark: str, part: Literal["train", "test"], by_list: bool = True) -> np.ndarray:
    """Row indices of `table` (one split part) in export order."""
    ids = np.asarray(table.column("sample_id").to_pylist(), dtype=object)
    by_name = np.argsort(ids, kind="stable")
    if not by_list:
        return by_name
    attr, order = split_order(pio.benchmark_column(benchmark), part)
    values = table.column(attr).to_numpy(zero_copy_only=False)
    values = np.asarray([-1 if v is None or v != v else int(v) for v in values])[by_name]
    rank = {v: k for k, v in enumerate(order)}
    group = np.asarray([rank.get(int(v), len(order)) for v in values])  # unknown IDs after the list
    return by_name[np.argsort(group, kind="stable")]


class _Rows:
    """Random access to the joints of a table's rows without one Python object per float."""

    def __init__(self, table: pa.Table):
        joints = table.column("joints").combine_chunks()
        self.offsets = joints.offsets.to_numpy()  # absolute into .values, also for a sliced array
        self.values = joints.values.to_numpy(zero_copy_only=False)
        self.num_frames = table.column("num_frames").to_numpy()
        self.labels = table.column("label").to_numpy().astype(np.int64)
        self.ids = table.column("sample_id").to_pylist()

    def data(self, i: int) -> np.ndarray:  # [T, 2, 25, 3]
        return pio.sample_array(self.values[self.offsets[i] : self.offsets[i + 1]], self.num_frames[i])


def _read_part(data_dir: str, benchmark: str, part: str) -> pa.Table:
    attr, _ = split_order(pio.benchmark_column(benchmark), part)
    columns = ["sample_id", "label", "num_frames", attr, "joints"]
    return pio.read_samples(data_dir, benchmark, part, columns=columns)


def _padded(rows: _Rows, idx: np.ndarray, max_frames: int) -> tuple[np.ndarray, int]:
    """x: [n, max_frames, 2, 25, 3] zero-padded, and how many were truncated."""
    x = np.zeros((len(idx), max_frames, *SAMPLE_LAYOUT), dtype=np.float32)
    truncated = 0
    for k, i in enumerate(idx):
        d = rows.data(int(i))
        truncated += d.shape[0] > max_frames
        d = d[:max_frames]
        x[k, : d.shape[0]] = d
    return x, truncated


def _one_hot(labels: np.ndarray, num_classes: int, benchmark: str) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels outside 0..{num_classes - 1} for benchmark {benchmark}")
    y = np.zeros((labels.size, num_classes), dtype=np.float32)
    y[np.arange(labels.size), labels] = 1.0
    return y


def _write_npz_member(zf: zipfile.ZipFile, key: str, shape: tuple[int, ...], chunks) -> None:
    """Stream one float32 array into an .npz member chunk by chunk (np.load reads it as usual)."""
    with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(fh, header)
        for c in chunks:
            fh.write(np.ascontiguousarray(c, dtype="<f4").tobytes())


def export_ctrgcn_npz(data_dir: str, benchmark: str, out: str, max_frames: int = MAX_FRAMES) -> dict:
    """Write a CTR-GCN `.npz` of `benchmark`; returns {"train": n, "test": n, "truncated": k, ...}."""
    num_classes = benchmark_num_classes(benchmark)
    summary: dict = {"format": "ctrgcn-npz", "benchmark": benchmark, "path": out, "truncated": 0}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz.tmp", dir=os.path.dirname(os.path.abspath(out)))
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for part in ("train", "test"):
                table = _read_part(data_dir, benchmark, part)
                rows = _Rows(table)
                order = export_order(table, benchmark, part)

                def chunks(order=order, rows=rows):
                    for s in range(0, len(order), CHUNK):
                        x, t = _padded(rows, order[s : s + CHUNK], max_frames)
                        summary["truncated"] += t
                        yield x.reshape(len(x), max_frames, FRAME_VALUES)  # [n, T, 2*25*3]

                _write_npz_member(zf, f"x_{part}", (len(order), max_frames, FRAME_VALUES), chunks())
                y = _one_hot(rows.labels[order], num_classes, benchmark)
                _write_npz_member(zf, f"y_{part}", y.shape, [y])
                summary[part] = len(order)
                summary[f"{part}_ids"] = [rows.ids[i] for i in order]
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _warn_truncated(summary, max_frames)
    return summary


def export_stgcn_npy(data_dir: str, benchmark: str, out_dir: str, max_frames: int = MAX_FRAMES) -> dict:
    """Write ST-GCN/AimCLR `{train,val}_data_joint.npy` + `{train,val}_label.pkl` into `out_dir`."""
    benchmark_num_classes(benchmark)
    os.makedirs(out_dir, exist_ok=True)
    summary: dict = {"format": "stgcn-npy", "benchmark": benchmark, "path": out_dir, "truncated": 0}
    for part, prefix in (("train", "train"), ("test", "val")):
        table = _read_part(data_dir, benchmark, part)
        rows = _Rows(table)
        order = export_order(table, benchmark, part, by_list=False)
        path = os.path.join(out_dir, f"{prefix}_data_joint.npy")
        tmp = path + ".tmp"
        shape = (len(order), NUM_COORDS, max_frames, NUM_JOINTS, MAX_BODIES)  # [N, C, T, V, M]
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        for s in range(0, len(order), CHUNK):
            x, t = _padded(rows, order[s : s + CHUNK], max_frames)  # [n, T, M, V, C]
            summary["truncated"] += t
            arr[s : s + len(x)] = x.transpose(0, 4, 1, 3, 2)  # -> [n, C, T, V, M]
        arr.flush()
        del arr
        os.replace(tmp, path)
        names = [f"{rows.ids[i]}.skeleton" for i in order]
        with open(os.path.join(out_dir, f"{prefix}_label.pkl"), "wb") as fh:
            pickle.dump((names, [int(v) for v in rows.labels[order]]), fh)
        summary[part] = len(order)
        summary[f"{part}_ids"] = [rows.ids[i] for i in order]
    _warn_truncated(summary, max_frames)
    return summary


def _warn_truncated(summary: dict, max_frames: int) -> None:
    if summary["truncated"]:
        warnings.warn(
            f"{summary['truncated']} samples longer than {max_frames} frames were truncated to {max_frames}",
            stacklevel=3,
        )


def export_dataset(data_dir: str, benchmark: str, fmt: str, out: str, max_frames: int = MAX_FRAMES) -> dict:
    """Export `benchmark` of the dataset at `data_dir` as `fmt` (one of FORMATS) to `out`."""
    if fmt == "ctrgcn-npz":
        return export_ctrgcn_npz(data_dir, benchmark, out, max_frames)
    if fmt == "stgcn-npy":
        return export_stgcn_npy(data_dir, benchmark, out, max_frames)
    raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
