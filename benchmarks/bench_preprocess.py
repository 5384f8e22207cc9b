"""Preprocessing throughput on realistic files: parse, one process's per-file work, the whole job.

    python benchmarks/bench_preprocess.py                      # 600 files, 2 CPUs
    python benchmarks/bench_preprocess.py --files 2000 --cpus 2

Files are written like the real NTU files (1-3 bodies, 50-300 frames, all 12 joint fields and the body
info at 7 significant digits: about 700 KB). The parser is compared with the plain line-by-line reader
of the common scripts (same process, same files, CPU time). The whole `jobs/preprocess.py` runs in a
fresh process on two sizes (`--small`, `--files`): the difference gives the per-file cost, the rest
is fixed start-up; from these it projects all 56,880 NTU60 and 114,480 NTU120 files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow.fs as pafs

from data_pipeline.ntu import NUM_COORDS, NUM_JOINTS
from data_pipeline.pipeline import process_paths
from data_pipeline.process import PreprocessConfig
from data_pipeline.skeleton_format import SkeletonSequence, read_skeleton, write_skeleton
from data_pipeline.synthetic import generate_sample, sample_file_name

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))  # the line-by-line baseline reader is test code
from reference_reader import read_skeleton_linewise  # noqa: E402

NTU60_FILES = 56_880
NTU120_FILES = 114_480


def realistic_sequence(index: int, seed: int) -> tuple[str, SkeletonSequence]:
    """A synthetic motion written like a real NTU file: 1-3 bodies, 50-300 frames, all 12 joint fields
    and the body info with 7 significant digits (about 700 KB on average, as the real files).

    Most NTU actions have one person and the two-person ones are a fifth of the classes; the mix
    below makes the average file 704 KB (200 files). Until November 2026 it was 0.55/0.35/0.10,
    which averaged 760 KB: per-file figures of the two are not comparable."""
    name, seq = generate_sample(index, seed)
    rng = np.random.default_rng([seed, 1, index])
    T = int(rng.integers(50, 301))
    bodies = int(rng.choice([1, 2, 3], p=[0.65, 0.27, 0.08]))
    empty = np.zeros((NUM_JOINTS, NUM_COORDS))
    first = seq.joints[seq.frame_index == seq.frame_index[0]][0] if len(seq.frame_index) else empty
    src = seq.joints[np.linspace(0, len(seq.joints) - 1, T).round().astype(int)] if len(seq.joints) else \
        np.broadcast_to(first, (T, NUM_JOINTS, NUM_COORDS))
    xyz = np.concatenate([src + [0.6 * b, 0, 0.1 * b] for b in range(bodies)])  # [bodies * T, 25, 3]
    z = np.maximum(xyz[..., 2], 1e-3)
    px, py = xyz[..., 0] / z, xyz[..., 1] / z
    quat = rng.normal(size=xyz.shape[:2] + (4,))
    quat /= np.linalg.norm(quat, axis=-1, keepdims=True)
    joints = np.concatenate([xyz, np.stack([256 + 366 * px, 212 - 366 * py, 960 + 1066 * px, 540 - 1066 * py], -1),
                             quat, np.full(xyz.shape[:2] + (1,), 2.0)], axis=-1)  # [R, 25, 12]
    info = np.column_stack([np.zeros(len(xyz)), np.ones(len(xyz)), rng.integers(0, 3, len(xyz)),
                            np.ones(len(xyz)), rng.integers(0, 3, len(xyz)), np.zeros(len(xyz)),
                            rng.normal(0, 0.1, len(xyz)), rng.normal(0, 0.1, len(xyz)), np.full(len(xyz), 2.0)])
    order = np.argsort(np.tile(np.arange(T), bodies), kind="stable")  # frame by frame, bodies in order
    ids = [f"720575940379{27000 + 100 * index % 9000 + b:05d}" for b in range(bodies)]
    return name, SkeletonSequence(
        num_frames=T, frame_index=np.tile(np.arange(T), bodies)[order].astype(np.int32),
        body_ids=[ids[b] for b in np.repeat(np.arange(bodies), T)[order]],
        joints=joints[order], body_info=info[order],
    )


def _write_realistic(args: tuple[str, int, int]) -> str:
    out_dir, index, seed = args
    name, seq = realistic_sequence(index, seed)
    path = os.path.join(out_dir, name)
    write_skeleton(path, seq)
    return path


def write_realistic(out_dir: str, n: int, seed: int, workers: int, unique: int = 200) -> list[str]:
    """n realistic files; the first `unique` are generated, the rest are links to them in turn under
    further sample names (the content does not depend on the name; generating costs ~0.1 s a file), so
    any first k of the returned paths (in this order) have about the distribution of the generated ones."""
    os.makedirs(out_dir, exist_ok=True)
    jobs = [(out_dir, i, seed) for i in range(min(n, unique))]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        generated = list(pool.map(_write_realistic, jobs, chunksize=4))
    paths = list(generated)
    for i in range(len(generated), n):
        path = os.path.join(out_dir, sample_file_name(i, seed))
        os.link(generated[i % len(generated)], path)
        paths.append(path)
    return paths


def _process_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command line, CPU seconds so far) of every process, from /proc. The command line
    is what names a Ray process: Ray sets it to `ray::IDLE`, `ray::MapBatches(fn)`, `ray::_StatsActor`, ..."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # ended meanwhile
            continue
        close = stat.rindex(b")")
        fields = stat[close + 2:].split()  # state, ppid, ..., utime (11), stime (12)
        table[int(entry)] = (int(fields[1]), cmdline, (int(fields[11]) + int(fields[12])) / tick)
    return table


TASK_WORKERS = "task workers"  # the processes that run the map_batches tasks (and idle between them)
# Ray's own processes, by the script or program in their command line
_PROGRAMS = {"dashboard/dashboard.py": "dashboard", "dashboard/agent.py": "dashboard agent",
             "agent/main.py": "runtime-env agent", "_private/log_monitor.py": "log monitor",
             "_private/monitor.py": "autoscaler monitor", "workers/default_worker.py": TASK_WORKERS,
             "raylet": "raylet", "gcs_server": "gcs_server"}


def process_kind(cmdline: str) -> str | None:
    """What a process of the job's Ray is, from its command line; None: a helper named by its parent.

    A worker process starts as `default_worker.py`, then Ray names it by what it runs: `ray::IDLE` between
    tasks, `ray::_load_reader` warming up (data_pipeline.pipeline), `ray::Op(fn)` running a map task,
    `ray::Class` / `ray::Class.method` as an actor (Ray Data's _StatsActor and
    _AutoscalingCoordinatorActor, the DashboardAgent, ...)."""
    if cmdline.startswith("ray::"):
        title = cmdline[5:].split(" ")[0]
        if title == "IDLE" or "(" in title or title == "_load_reader":  # the job's warm-up task, then map tasks
            return TASK_WORKERS
        actor = title.split(".")[0].split(":")[-1]  # Ray may prefix a named actor's name: "name:Class"
        agents = {"DashboardAgent": "dashboard agent", "RuntimeEnvAgent": "runtime-env agent"}
        return agents.get(actor, "actor " + actor)
    if cmdline.startswith("ray-dashboard-"):  # the dashboard's module processes
        return "dashboard"
    for token in cmdline.split():
        name = "/".join(token.split("/")[-2:]) if token.endswith(".py") else token.split("/")[-1]
        if name in _PROGRAMS:
            return _PROGRAMS[name]
    return None


@dataclass
class JobRun:
    wall: float  # seconds
    cpu: dict[str, float]  # CPU seconds by process kind: "driver" (the job's own process), TASK_WORKERS, ...
    first_task: float  # seconds from the start to the first map task seen running
    two_tasks: float  # ... to two map tasks seen running at once (Ray Data using both CPUs); inf: never

    @property
    def driver_cpu(self) -> float:  # listing, triage, Ray Data's scheduling loop, manifest
        return self.cpu.get("driver", 0.0)

    @property
    def worker_cpu(self) -> float:  # the map_batches tasks, and each worker's start-up (imports)
        return self.cpu.get(TASK_WORKERS, 0.0)

    @property
    def other_cpu(self) -> float:  # the rest of its Ray: actors, raylet, GCS, dashboard, agents, monitors
        return sum(self.cpu.values()) - self.driver_cpu - self.worker_cpu


def run_job(raw: str, out: str, cpus: int, repo: str = REPO) -> JobRun:
    """The whole `jobs/preprocess.py` of `repo` in a fresh process (Ray start-up included): its wall time
    and the CPU time of its process tree by kind of process, polled from /proc. CPU time is what a loaded,
    shared machine does not distort: other processes stretch the wall time, not the work done."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, os.path.join(repo, "jobs", "preprocess.py"), "--raw-dir", raw, "--out",
                             out, "--num-cpus", str(cpus)], stdout=subprocess.DEVNULL, cwd=repo,
                            env={**os.environ, "RAY_ADDRESS": "local", "PYTHONPATH": repo})
    cpu_seen: dict[int, float] = {}  # pid -> CPU seconds, the last value read
    kind: dict[int, str | None] = {proc.pid: "driver"}
    parent: dict[int, int] = {}
    first_task = two_tasks = float("inf")
    while proc.poll() is None:
        table = _process_table()
        running = sum(1 for pid in kind.keys() & table.keys() if table[pid][1].startswith("ray::MapBatches("))
        if running:
            first_task = min(first_task, time.perf_counter() - t)
        if running >= 2:
            two_tasks = min(two_tasks, time.perf_counter() - t)
        for pid, (ppid, _, _) in sorted(table.items()):
            if ppid in kind and pid not in kind:
                kind[pid], parent[pid] = None, ppid
        for pid in kind.keys() & table.keys():
            cpu_seen[pid] = table[pid][2]
            now = process_kind(table[pid][1]) if pid != proc.pid else "driver"
            if now is not None and (kind[pid] in (None, TASK_WORKERS)):  # once an actor, always that actor
                kind[pid] = now
        time.sleep(0.2)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, proc.args)
    # Each process as last polled (at most 0.2 s before it ended). Not RUSAGE_CHILDREN for the driver:
    # that also counts whichever Ray processes the job reaped.
    cpu: dict[str, float] = {}
    for pid, seconds in cpu_seen.items():
        k, p = kind[pid], pid
        while k is None and p in parent:  # a helper (forkserver, resource tracker): its parent's kind
            p = parent[p]
            k = kind.get(p)
        cpu[k or "other"] = cpu.get(k or "other", 0.0) + seconds
    return JobRun(wall, cpu, first_task, two_tasks)


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
    ap.add_argument("--files", type=int, default=600, help="files of the larger whole-job run")
    ap.add_argument("--small", type=int, default=0, help="files of the smaller run (default: files / 4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the job's local Ray")
    ap.add_argument("--baseline-repo", default="", help="also time the whole job of this checkout (before/after)")
    args = ap.parse_args()
    small_n = args.small or max(1, args.files // 4)

    root = tempfile.mkdtemp(prefix="bench_preprocess_")
    try:
        raw = os.path.join(root, "raw")
        t = time.perf_counter()
        paths = write_realistic(raw, args.files, seed=args.seed, workers=args.cpus)
        # Single-process figures on each distinct file once: the same distribution as the whole-job runs.
        sample = list({os.stat(p).st_ino: p for p in paths}.values())
        n = len(sample)
        size_kb = sum(os.path.getsize(p) for p in sample) / n / 1e3
        frames = sum(read_skeleton(p).num_frames for p in sample) / n
        print(f"{len(paths)} realistic files ({size_kb:.0f} KB, {frames:.0f} frames on average, 1-3 bodies, all "
              f"12 joint fields), written in {time.perf_counter() - t:.1f} s; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        cfg = PreprocessConfig()

        # -- parse only: text -> SkeletonSequence
        t_line = timed(read_skeleton_linewise, sample[:30], 1)
        t_line = (t_line[0] * n / 30, t_line[1] * n / 30)
        t_vec = timed(read_skeleton, sample, args.repeats)
        print("\nparse (single process)")
        print(f"  line-by-line reader        {rate(n, t_line)}")
        print(f"  skeleton_format            {rate(n, t_vec)}   x{t_line[1] / t_vec[1]:.1f} the line-by-line reader "
              f"(wall: x{t_line[0] / t_vec[0]:.1f})")

        # -- whole per-file path, single process: read, parse, denoise, normalise, write Parquet
        part_dir = os.path.join(root, "single")
        os.makedirs(part_dir)
        batches = [sample[s : s + 32] for s in range(0, n, 32)]

        def pipeline_batch(batch: list[str]) -> None:
            rels = [os.path.basename(p) for p in batch]
            process_paths(batch, rels, cfg, None, part_dir, pafs.LocalFileSystem())

        t_full = timed(pipeline_batch, batches, args.repeats)
        print(f"  process_paths (all of one file's work) {rate(n, t_full)}")

        # -- the whole job, two sizes: fixed start-up and per-file cost
        small = os.path.join(root, "raw_small")
        os.makedirs(small)
        for p in paths[:small_n]:
            os.link(p, os.path.join(small, os.path.basename(p)))
        repos = [("this checkout", REPO)] + ([("baseline", args.baseline_repo)] if args.baseline_repo else [])
        for label, repo in repos:
            a = run_job(small, os.path.join(root, "out_small"), args.cpus, repo)
            b = run_job(raw, os.path.join(root, "out_large"), args.cpus, repo)
            shutil.rmtree(os.path.join(root, "out_small"), ignore_errors=True)
            shutil.rmtree(os.path.join(root, "out_large"), ignore_errors=True)
            extra = len(paths) - small_n
            print(f"\nwhole jobs/preprocess.py ({label}), {args.cpus} CPUs: {small_n} files {a.wall:.1f} s, "
                  f"{len(paths)} files {b.wall:.1f} s (wall); load average {os.getloadavg()[0]:.1f}")
            # CPU seconds: what the load of other processes does not distort
            cpu = {k: (getattr(b, k) - getattr(a, k)) / extra for k in ("worker_cpu", "driver_cpu", "other_cpu")}
            per_file_cpu = sum(cpu.values())
            print(f"  CPU per file (marginal): Ray workers {cpu['worker_cpu'] * 1e3:.2f} ms, driver "
                  f"{cpu['driver_cpu'] * 1e3:.2f} ms, rest of Ray {cpu['other_cpu'] * 1e3:.2f} ms; the workers at "
                  f"{cpu['worker_cpu'] / (t_full[1] / n) * 100:.0f}% of the single-process process_paths CPU "
                  f"({t_full[1] / n * 1e3:.2f} ms)")
            print(f"  first map task running after {a.first_task:.1f} s / {b.first_task:.1f} s, two at once after "
                  f"{a.two_tasks:.1f} s / {b.two_tasks:.1f} s ({small_n} / {len(paths)} files)")
            print(f"  CPU by process kind: {small_n} files / {len(paths)} files / marginal ms per file")
            for k in sorted(a.cpu.keys() | b.cpu.keys(), key=lambda k: -b.cpu.get(k, 0.0)):
                ca, cb = a.cpu.get(k, 0.0), b.cpu.get(k, 0.0)
                print(f"    {k:34s} {ca:6.2f} s {cb:6.2f} s {(cb - ca) / extra * 1e3:6.2f}")
            print(f"    {'all':34s} {sum(a.cpu.values()):6.2f} s {sum(b.cpu.values()):6.2f} s "
                  f"{per_file_cpu * 1e3:6.2f}")
            fixed = max(0.0, a.wall - small_n * per_file_cpu / args.cpus)
            print(f"  from CPU time, all {args.cpus} cores busy: marginal {args.cpus / per_file_cpu:.0f} files/s, "
                  f"fixed start-up {fixed:.1f} s (the small run's wall time less its per-file work)")
            for name, total in (("NTU60", NTU60_FILES), ("NTU120", NTU120_FILES)):
                minutes = (fixed + total * per_file_cpu / args.cpus) / 60
                print(f"  projection {name} ({total:,} files): {minutes:5.1f} min")
            per_file = (b.wall - a.wall) / extra
            if per_file <= 0:  # the machine's load changed between the runs more than the work did
                print("  wall time: too noisy to separate fixed and per-file cost")
                continue
            print(f"  from wall time: marginal {1 / per_file:.1f} files/s, fixed start-up "
                  f"{a.wall - small_n * per_file:.1f} s; NTU60 "
                  f"{(a.wall - small_n * per_file + NTU60_FILES * per_file) / 60:.1f} min (load-dependent)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
