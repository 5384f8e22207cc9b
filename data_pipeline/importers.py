"""Import the arrays of the field's standard preprocessing scripts into the Parquet dataset schema.

- CTR-GCN `.npz`: `x_train`/`x_test` [N, 300, 150] (150 = 2 actors x 25 joints x xyz, zero-padded
  in time), one-hot `y_train`/`y_test`. It carries no sample names, so rows get synthesized IDs
  (`ctrgcn_train_000001`), the label, `action` = label + 1 and the split of their part for the given
  benchmark; the other metadata columns stay null.
- ST-GCN / AimCLR `{train,val}_data_joint.npy` [N, 3, 300, 25, 2] with `{train,val}_label.pkl` =
  (sample_names, labels): names parse, so rows get the full metadata and every split column.

Both are zero-padded to a fixed length: num_frames is recovered as last non-zero frame + 1, and an
all-zero second actor means one actor. The NTU120 scripts fill a one-actor sample's second slot with a
copy of actor 1; such a sample is stored as one actor (slot 2 zeroed).
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections.abc import Iterator

import numpy as np

from data_pipeline import parquet_io as pio
from data_pipeline.ntu import FRAME_VALUES, MAX_BODIES, NUM_COORDS, NUM_JOINTS, SAMPLE_LAYOUT
from data_pipeline.redact import redact
from data_pipeline.skeleton_format import SkeletonFormatError, parse_sample_name
from data_pipeline.splits import split_membership

NPZ_PARTS = ("train", "test")
STGCN_PARTS = {"train": "train", "val": "test"}  # ST-GCN file prefix -> split part
CHUNK = 256  # samples read from disk at a time


class ImportFormatError(ValueError):
    """A source file whose arrays do not have the expected layout; the message names the file."""


def _npz_member(zf: zipfile.ZipFile, key: str, path: str) -> zipfile.ZipInfo:
    try:
        return zf.getinfo(f"{key}.npy")
    except KeyError:
        raise ImportFormatError(f"{path}: no array {key!r} (has {sorted(n[:-4] for n in zf.namelist())})") from None


def _npz_rows(path: str, key: str) -> tuple[tuple[int, ...], Iterator[np.ndarray]]:
    """(shape, chunks of rows) of one array in an `.npz`, read in chunks so a 7 GB file fits in memory."""
    zf = zipfile.ZipFile(path)
    fh = zf.open(_npz_member(zf, key, path))
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ImportFormatError(f"{path}: {key} uses .npy format version {version}, not 1.0/2.0")
    if fortran:
        raise ImportFormatError(f"{path}: {key} is Fortran-ordered")
    row_items = int(np.prod(shape[1:], dtype=np.int64))

    def chunks() -> Iterator[np.ndarray]:
        try:
            for start in range(0, shape[0], CHUNK):
                n = min(CHUNK, shape[0] - start)
                buf = fh.read(n * row_items * dtype.itemsize)
                yield np.frombuffer(buf, dtype=dtype).reshape((n, *shape[1:]))
        finally:
            fh.close()
            zf.close()

    return tuple(shape), chunks()


def _load_npz_small(path: str, key: str) -> np.ndarray:
    with np.load(path) as z:
        if key not in z:
            raise ImportFormatError(f"{path}: no array {key!r} (has {sorted(z.files)})")
        return np.asarray(z[key])


def trim_sample(x: np.ndarray, dedupe_copied_actor: bool = True) -> tuple[np.ndarray, int, bool]:
    """Zero-padded [T, 2, 25, 3] -> (data [t, 2, 25, 3], num_bodies, copied actor removed).

    Raises ValueError for an all-zero sample.
    """
    x = np.array(x, dtype=np.float32)  # copy: the caller's buffer may be read-only
    nonzero = np.flatnonzero(np.any(x.reshape(x.shape[0], -1) != 0, axis=1))
    if nonzero.size == 0:
        raise ValueError("all-zero sample")
    x = x[: nonzero[-1] + 1]
    copied = bool(dedupe_copied_actor and np.any(x[:, 1] != 0) and np.array_equal(x[:, 0], x[:, 1]))
    if copied:
        x[:, 1] = 0
    num_bodies = 2 if np.any(x[:, 1] != 0) else 1
    return x, num_bodies, copied


def _metadata_from_name(sample_id: str) -> dict:
    try:
        n = parse_sample_name(sample_id)
    except SkeletonFormatError:
        return {}
    return {
        "setup": n.setup,
        "camera": n.camera,
        "subject": n.subject,
        "replication": n.replication,
        "action": n.action,
        **split_membership(n),
    }


def _row(sample_id: str, label: int, data: np.ndarray, num_bodies: int, info: dict, source: str,
         column: str, part: str) -> dict:
    row = {"sample_id": sample_id, "label": label, "action": label + 1, **_metadata_from_name(sample_id)}
    row[column] = part  # the source file's split is authoritative for its own benchmark
    row.update(
        num_frames=data.shape[0],
        num_bodies=num_bodies,
        joints=data,
        denoise_info=json.dumps(info, sort_keys=True),
        source=source,
    )
    return row


def import_ctrgcn_npz(
    npz_path: str, out_dir: str, benchmark: str, dedupe_copied_actor: bool = True, rows_per_part: int = 256
) -> dict:
    """Import a CTR-GCN `.npz` into the Parquet dataset `out_dir`; returns the manifest.

    `out_dir` is claimed as by jobs/preprocess.py: new, empty or a skelmae dataset, one run at a time."""
    pio.benchmark_column(benchmark)
    if not os.path.isfile(npz_path):
        raise FileNotFoundError(f"{npz_path}: no such file")
    with pio.claim_output(out_dir, inputs=(npz_path,), field="source"):
        return _import_ctrgcn_npz(npz_path, out_dir, benchmark, dedupe_copied_actor, rows_per_part)


def _import_ctrgcn_npz(npz_path, out_dir, benchmark, dedupe_copied_actor, rows_per_part) -> dict:
    column = pio.benchmark_column(benchmark)
    writer = pio.DatasetWriter(out_dir, rows_per_part=rows_per_part)
    errors: list[dict] = []
    n_in = n_copied = 0
    base = os.path.basename(npz_path)
    for part in NPZ_PARTS:
        y = _load_npz_small(npz_path, f"y_{part}")  # [N, C] one-hot
        shape, chunks = _npz_rows(npz_path, f"x_{part}")  # [N, T, 150]
        if len(shape) != 3 or shape[2] != FRAME_VALUES:
            raise ImportFormatError(f"{npz_path}: x_{part} has shape {shape}, expected [N, T, 150]")
        if y.ndim != 2 or y.shape[0] != shape[0]:
            raise ImportFormatError(f"{npz_path}: y_{part} has shape {y.shape}, expected [{shape[0]}, classes]")
        if not np.all((y == 0) | (y == 1)) or not np.all(y.sum(axis=1) == 1):
            raise ImportFormatError(f"{npz_path}: y_{part} is not one-hot")
        labels = y.argmax(axis=1)
        i = 0
        for chunk in chunks:  # [n, T, 150]
            for x in chunk:
                sample_id = f"ctrgcn_{part}_{i + 1:06d}"
                n_in += 1
                try:
                    data, bodies, copied = trim_sample(x.reshape(-1, *SAMPLE_LAYOUT), dedupe_copied_actor)
                except ValueError as e:
                    errors.append({"file": f"{base}:x_{part}[{i}]", "reason": f"unusable: {e}"})
                    i += 1
                    continue
                n_copied += copied
                info = {"imported_from": "ctrgcn-npz", "index": i, "copied_actor_removed": copied}
                writer.add(_row(sample_id, int(labels[i]), data, bodies, info, base, column, part))
                i += 1
    return writer.finish(errors, _manifest("ctrgcn-npz", benchmark, npz_path, n_in, len(writer.summary), errors,
                                           n_copied, dedupe_copied_actor))


def stgcn_files(src_dir: str) -> dict[str, tuple[str, str]]:
    """{split part: (data .npy, label .pkl)} found in an ST-GCN/AimCLR benchmark directory."""
    found: dict[str, tuple[str, str]] = {}
    for prefix, part in STGCN_PARTS.items():
        for data_name in (f"{prefix}_data_joint.npy", f"{prefix}_data.npy"):
            data = os.path.join(src_dir, data_name)
            label = os.path.join(src_dir, f"{prefix}_label.pkl")
            if os.path.isfile(data):
                if not os.path.isfile(label):
                    raise FileNotFoundError(f"{src_dir}: {data_name} has no {prefix}_label.pkl beside it")
                found[part] = (data, label)
                break
    if not found:
        raise FileNotFoundError(f"{src_dir}: no train_data_joint.npy / val_data_joint.npy (ST-GCN layout)")
    return found


def _int_dtype(*args):
    """numpy.dtype for the label unpickler: integer dtypes only (an object dtype would unpickle code)."""
    dtype = np.dtype(*args)
    if dtype.kind not in "iub" or dtype.hasobject:
        raise pickle.UnpicklingError(f"dtype {dtype} is not an integer dtype")
    return dtype


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """_codecs.encode as protocol-2 pickles use it for an array's raw bytes; latin-1 text only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is admitted for latin-1 text only")
    return text.encode("latin1")


def _frombuffer(buf, dtype, shape, order):
    """numpy's protocol-5 array constructor, for integer dtypes only."""
    return np.frombuffer(buf, dtype=_int_dtype(dtype)).reshape(shape, order=order)


# Every global a label file may name: numpy integer arrays and scalars (numpy 1.x and 2.x spellings).
_LABEL_GLOBALS = {
    **{(m, "_reconstruct"): np.ndarray.__reduce__(np.zeros(1, np.int64))[0]
       for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "scalar"): np.int64(0).__reduce__()[0] for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _int_dtype,
    ("_codecs", "encode"): _latin1,
    **{(m, "_frombuffer"): _frombuffer for m in ("numpy.core.numeric", "numpy._core.numeric")},
}


class LabelUnpickler(pickle.Unpickler):
    """Reads the ST-GCN label pickle (names, labels) and nothing else: lists and tuples of str and int,
    numpy integer arrays and scalars (any pickle protocol). Any other global (a function a payload
    would call) is refused; pickle's C unpickler still does the reading, so loading is as fast."""

    def find_class(self, module: str, name: str):
        try:
            return _LABEL_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None


def _load_labels(path: str) -> tuple[list[str], list[int]]:
    try:
        with open(path, "rb") as fh:
            obj = LabelUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise ImportFormatError(f"{path}: not an ST-GCN label file (names, labels): {e}") from None
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2 and len(obj[0]) == len(obj[1])):
        raise ImportFormatError(f"{path}: expected a pickle of (sample_names, labels) of equal length")
    names_in, labels_in = obj
    if isinstance(names_in, np.ndarray) or not all(isinstance(n, str) for n in names_in):
        raise ImportFormatError(f"{path}: sample names must be strings")
    if isinstance(labels_in, np.ndarray):
        labels_in = labels_in.tolist()
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels_in):
        raise ImportFormatError(f"{path}: labels must be integers")
    names = [os.path.basename(n).removesuffix(".skeleton") for n in names_in]
    return names, [int(v) for v in labels_in]


def import_stgcn_npy(
    src_dir: str, out_dir: str, benchmark: str, dedupe_copied_actor: bool = True, rows_per_part: int = 256
) -> dict:
    """Import an ST-GCN/AimCLR benchmark directory into the Parquet dataset `out_dir`; returns the manifest.

    `out_dir` is claimed as by jobs/preprocess.py: new, empty or a skelmae dataset, one run at a time."""
    pio.benchmark_column(benchmark)
    files = stgcn_files(src_dir)
    with pio.claim_output(out_dir, inputs=(src_dir,), field="source"):
        return _import_stgcn_npy(files, src_dir, out_dir, benchmark, dedupe_copied_actor, rows_per_part)


def _import_stgcn_npy(files, src_dir, out_dir, benchmark, dedupe_copied_actor, rows_per_part) -> dict:
    column = pio.benchmark_column(benchmark)
    writer = pio.DatasetWriter(out_dir, rows_per_part=rows_per_part)
    errors: list[dict] = []
    n_in = n_copied = 0
    for part in NPZ_PARTS:
        if part not in files:
            continue
        data_path, label_path = files[part]
        names, labels = _load_labels(label_path)
        arr = np.load(data_path, mmap_mode="r")  # [N, C, T, V, M]
        if arr.ndim != 5 or arr.shape[1] != NUM_COORDS or arr.shape[3] != NUM_JOINTS or arr.shape[4] != MAX_BODIES:
            raise ImportFormatError(f"{data_path}: shape {arr.shape}, expected [N, 3, T, 25, 2]")
        if arr.shape[0] != len(names):
            raise ImportFormatError(f"{data_path}: {arr.shape[0]} samples but {label_path} has {len(names)} labels")
        base = os.path.basename(data_path)
        for i, (name, label) in enumerate(zip(names, labels, strict=True)):
            n_in += 1
            x = np.transpose(arr[i], (1, 3, 2, 0))  # [C, T, V, M] -> [T, M, V, C]
            try:
                data, bodies, copied = trim_sample(x, dedupe_copied_actor)
            except ValueError as e:
                errors.append({"file": f"{base}[{i}] {name}", "reason": f"unusable: {e}"})
                continue
            n_copied += copied
            info = {"imported_from": "stgcn-npy", "index": i, "copied_actor_removed": copied}
            writer.add(_row(name, label, data, bodies, info, base, column, part))
    return writer.finish(errors, _manifest("stgcn-npy", benchmark, src_dir, n_in, len(writer.summary), errors,
                                           n_copied, dedupe_copied_actor))


FORMATS = ("ctrgcn-npz", "stgcn-npy")


def import_arrays(src: str, out_dir: str, benchmark: str, dedupe_copied_actor: bool = True,
                  fmt: str | None = None) -> dict:
    """Import either format: a `.npz` file (CTR-GCN) or a directory of `.npy` + `.pkl` (ST-GCN).

    `fmt` (one of FORMATS) says which; None guesses from `src` (a directory: ST-GCN)."""
    if fmt is None:
        fmt = "stgcn-npy" if os.path.isdir(src) else "ctrgcn-npz"
    if fmt == "stgcn-npy":
        return import_stgcn_npy(src, out_dir, benchmark, dedupe_copied_actor)
    return import_ctrgcn_npz(src, out_dir, benchmark, dedupe_copied_actor)


def _manifest(fmt: str, benchmark: str, src: str, n_in: int, n_out: int, errors: list[dict], n_copied: int,
              dedupe: bool) -> dict:
    return {
        "kind": "import",
        "config": {"format": fmt, "benchmark": benchmark, "dedupe_copied_actor": dedupe},
        "counts": {
            "samples_in": n_in,
            "rows_out": n_out,
            "errors": len(errors),
            "excluded": 0,
            "skipped_by_reason": {"unusable": len(errors)} if errors else {},
            "copied_actor_removed": n_copied,
        },
        "source_paths": [redact(src)],
    }
