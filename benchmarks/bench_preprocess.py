"""Preprocessing throughput: parse and whole pipeline, single process and on Ray Data, against the
plain line-by-line reader of the common preprocessing scripts (run in the same process, same files).

    python benchmarks/bench_preprocess.py                 # 300 synthetic files in a temp dir
    python benchmarks/bench_preprocess.py --files 1000 --cpus 2

Prints files/s and the ratio to the line-by-line reader, and projects the time for all 56,880 NTU60
files on 2 cores from the measured Ray Data rate. Synthetic files are about the size of real ones
(40-150 frames, mostly one body); the projection scales with the real files' average size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import pyarrow.fs as pafs

from data_pipeline.pipeline import process_paths, run_preprocess
from data_pipeline.process import PreprocessConfig, process_sequence
from data_pipeline.reference_reader import read_skeleton_linewise
from data_pipeline.skeleton_format import parse_sample_name, read_skeleton
from data_pipeline.synthetic import generate_dataset

NTU60_FILES = 56_880


def timed(fn, paths: list[str], repeats: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the best of `repeats` passes of fn over all paths.

    CPU time of this process is the fairer figure on a shared machine: other processes' load
    stretches wall time but not the work this process does.
    """
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        for p in paths:
            fn(p)
        best = min(best, (time.perf_counter() - w, time.process_time() - c), key=lambda t: t[1])
    return best


def rate(n: int, t: tuple[float, float]) -> str:
    return f"{n / t[1]:8.1f} files/s CPU ({n / t[0]:6.1f} wall)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="CPUs of the local Ray")
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="bench_preprocess_")
    try:
        raw = os.path.join(root, "raw")
        t = time.perf_counter()
        paths = sorted(generate_dataset(raw, args.files, seed=args.seed, workers=args.cpus))
        n = len(paths)
        size_kb = sum(os.path.getsize(p) for p in paths) / n / 1e3
        frames = sum(read_skeleton(p).num_frames for p in paths) / n
        print(f"{n} synthetic files ({size_kb:.0f} KB, {frames:.0f} frames on average), "
              f"generated in {time.perf_counter() - t:.1f} s; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")
        cfg = PreprocessConfig()

        # -- parse only: text -> SkeletonSequence
        t_line = timed(read_skeleton_linewise, paths, args.repeats)
        t_vec = timed(read_skeleton, paths, args.repeats)
        print("\nparse (single process)")
        print(f"  line-by-line reader        {rate(n, t_line)}")
        print(f"  skeleton_format            {rate(n, t_vec)}   x{t_line[1] / t_vec[1]:.1f} the line-by-line reader "
              f"(wall: x{t_line[0] / t_vec[0]:.1f})")

        # -- whole per-file path, single process: read, parse, denoise, normalise (+ write, ours)
        def line_pipeline(p: str) -> None:
            process_sequence(read_skeleton_linewise(p), parse_sample_name(p), cfg)

        t_line_full = timed(line_pipeline, paths, 1)
        part_dir = os.path.join(root, "single")
        os.makedirs(part_dir)
        batches = [paths[s : s + 128] for s in range(0, n, 128)]

        def pipeline_batch(batch: list[str]) -> None:
            rels = [os.path.basename(p) for p in batch]
            process_paths(batch, rels, cfg, None, part_dir, pafs.LocalFileSystem())

        t_full = timed(pipeline_batch, batches, args.repeats)
        print("\nwhole pipeline, single process (read, parse, denoise, normalise; ours also writes Parquet)")
        print(f"  line-by-line reader + same processing {rate(n, t_line_full)}")
        print(f"  pipeline                              {rate(n, t_full)}   "
              f"x{t_line_full[1] / t_full[1]:.1f} the line-by-line version")

        # -- whole pipeline on Ray Data
        import ray

        t = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, configure_logging=False, log_to_driver=False)
        t_init = time.perf_counter() - t
        runs = []
        for k in range(2):
            t = time.perf_counter()
            m = run_preprocess(raw, os.path.join(root, "out"), dataset="ntu60", cfg=cfg)
            runs.append((time.perf_counter() - t, m["timings"]["process_s"], m["counts"]["rows_out"]))
            if k == 0:
                print(f"\nwhole pipeline on Ray Data, {args.cpus} CPUs (ray.init took {t_init:.1f} s, not counted)")
            label = "first run (cold workers)" if k == 0 else "second run (warm)"
            print(f"  {label:<26} {n / runs[-1][0]:8.1f} files/s end to end "
                  f"({n / runs[-1][1]:.1f} files/s in the Ray stage), {runs[-1][2]} rows")
        ray.shutdown()

        ray_rate = n / runs[-1][0]
        per_core = n / t_full[1]
        print(f"\nprojection for all {NTU60_FILES:,} NTU60 files (files of this size):")
        print(f"  Ray Data on {args.cpus} cores, measured wall rate     {NTU60_FILES / ray_rate / 60:6.1f} min")
        print(f"  2 cores, from the single-process CPU rate  {NTU60_FILES / (2 * per_core) / 60:6.1f} min "
              f"(2 otherwise idle cores)")
        print(f"  line-by-line reader + processing, 2 cores  {NTU60_FILES / (2 * n / t_line_full[1]) / 60:6.1f} min")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
