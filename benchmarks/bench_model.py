"""SkeletonMAE pretraining step at the hardware limit: time, memory, FLOP rate vs. the measured peak.

For each preset (`tiny`, `base`) one training step (forward, backward, AdamW) at mask ratio 0.9 is
timed and reported as
  step time, samples/s (a sample = one sequence [T, 2, 25, 3], both actors), peak memory,
  achieved GFLOP/s and its fraction of the peak measured in the same run, the encoder/decoder split
  (FLOPs and time), and the projected time of MAMP's 400-epoch NTU60 recipe on this machine;
plus, for `base`, the peak memory at batch 8 and 32 with and without activation checkpointing against
the target of a third of MAMP's (about 0.9 GB and 2.9 GB on CPU), and the loader's collate +
augmentation throughput per CPU core at the preset's T next to the model's consumption rate.

FLOPs are counted analytically (every GEMM and attention's QK^T and AV; backward = 2x forward):
torch's FlopCounterMode misses the CPU fused-attention kernel (27 instead of 37.6 GFLOP per `base`
sample). The CPU peak is a large fp32 matmul at the same thread count, measured before and after
the steps (the higher one is used; both are printed, since the machine may be shared).

Memory: every configuration runs in its own fresh child process; on CPU the peak is ru_maxrss
(the OS's high-water mark of resident memory, which sees torch's allocations, unlike tracemalloc)
and `step MB` is that peak minus the RSS just before the first step (model, input and the torch
runtime already resident), i.e. what the step itself adds: gradients, AdamW state, activations. On
a GPU it is torch.cuda.max_memory_allocated. The peak is taken over at least two steps (three for the
timed rows), since AdamW's state exists from the second on. The child sets the host memory up as
the training workers do (`skelmae.train.host_memory`: freed activations are unmapped, not kept in
glibc's heap, where RSS grew ~80 MB a step); `--glibc-heap` measures glibc's defaults instead.

With a CUDA GPU the same rows run under bf16 autocast with fused AdamW (optionally torch.compile)
and report the fraction of the GPU's dense bf16 peak (H100/H200 SXM: 989 TFLOP/s; override with
--peak-tflops). Without one it says "no GPU".

    .venv/bin/python benchmarks/bench_model.py                       # full protocol
    .venv/bin/python benchmarks/bench_model.py --presets base --iters 2 --memory-batches 8
    PYTHONPATH=/tmp/old_tree .venv/bin/python benchmarks/bench_model.py ...   # the same on older code
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from skelmae.model.config import ModelConfig
from skelmae.model.mae import SkeletonMAE

try:
    from skelmae.train.host_memory import return_freed_tensors_to_os
except ImportError:  # older trees (PYTHONPATH=/tmp/old_tree): glibc's defaults
    return_freed_tensors_to_os = None

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "GH200": 989.0, "A100": 312.0, "L40S": 362.0}
NTU60_XSUB_TRAIN = 40_091  # NTU60 cross-subject training sequences (MAMP's list, missing skeletons dropped)
EPOCHS = 400  # MAMP's pretraining recipe
MAMP_THIRD_MB = {8: 900, 32: 2900}  # the targets: a third of MAMP's peak on CPU


# ---------------------------------------------------------------------------- FLOPs
def flops_per_sample(cfg: ModelConfig, visible: int) -> dict:
    """Analytic training FLOPs (fwd + bwd = 3x fwd) per sample, all actors: {"encoder", "decoder"}."""
    def blocks(tokens: int, d: int, depth: int) -> float:
        hidden = int(d * cfg.mlp_ratio)
        linear = 2 * tokens * d * (4 * d + 2 * hidden)  # qkv + proj + fc1 + fc2
        attention = 4 * tokens * tokens * d  # QK^T and AV
        return depth * (linear + attention)

    length, p, d, dd = cfg.num_tokens, cfg.patch_dim, cfg.embed_dim, cfg.decoder_embed_dim
    enc = 2 * visible * p * d + blocks(visible, d, cfg.depth)
    dec = 2 * visible * d * dd + blocks(length, dd, cfg.decoder_depth) + 2 * length * dd * p
    return {"encoder": 3 * cfg.num_persons * enc, "decoder": 3 * cfg.num_persons * dec}


def gemm_peak_gflops(device: torch.device, dtype: torch.dtype, n: int = 2048, reps: int = 3) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    _sync(device)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


# ---------------------------------------------------------------------------- one configuration
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _config(preset: str, ratio: float, checkpointing: str) -> ModelConfig:
    kw = dict(preset=preset, mask_ratio=ratio)
    if checkpointing != "none":  # older model code has no such field; "none" is what it does
        kw["activation_checkpointing"] = checkpointing
    return ModelConfig(**kw)


def measure(preset: str, batch: int, iters: int, warmup: int, ratio: float, device_name: str, dtype: str,
            checkpointing: str, compile: bool, threads: int, split: bool, glibc_heap: bool = False) -> dict:
    # As the training workers do (skelmae.train.loops._setup), before the model and batch exist.
    freed_to_os = False if glibc_heap or return_freed_tensors_to_os is None else return_freed_tensors_to_os()
    if threads:
        torch.set_num_threads(threads)
    device = torch.device(device_name)
    torch.manual_seed(0)
    cfg = _config(preset, ratio, checkpointing)
    model = SkeletonMAE(cfg).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), fused=device.type == "cuda")
    fwd = torch.compile(model) if compile else model
    x = torch.randn(batch, cfg.num_frames, cfg.num_persons, cfg.num_joints, cfg.in_chans, device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16")

    def step() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)  # before the forward, as the training engine does: no stale grads held
        with autocast:
            loss = fwd(x)[0]
        loss.backward()
        opt.step()
        return loss.detach()  # no .item(): the host never waits for the device inside the loop

    def encoder_step() -> None:
        with autocast:
            latent = model.forward_encoder(x)[0]
        latent.float().square().mean().backward()
        opt.zero_grad(set_to_none=True)

    rss0 = _rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(max(warmup, 1)):
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    _sync(device)
    step_s = (time.perf_counter() - t0) / iters if iters else float("nan")
    if device.type == "cuda":
        peak_mb = step_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        step_mb = peak_mb - rss0
    # The machine's GEMM rate drifts (a shared VM: 74-130 GFLOP/s at 2 threads within one session), so
    # each timed row also measures it right after its own steps, in the same process and threads.
    gemm_now = gemm_peak_gflops(device, torch.float32, reps=5) if device.type == "cpu" and iters else float("nan")
    enc_s = float("nan")
    if split and iters:
        encoder_step()
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            encoder_step()
        _sync(device)
        enc_s = (time.perf_counter() - t0) / iters
    visible = cfg.num_tokens - round(model.effective_mask_ratio * cfg.num_tokens)
    return dict(preset=preset, batch=batch, device=device.type, dtype=dtype, checkpointing=checkpointing,
                compile=compile, iters=iters, step_s=step_s, peak_mb=peak_mb, step_mb=step_mb, enc_s=enc_s,
                flops=flops_per_sample(cfg, visible), threads=torch.get_num_threads(), visible=visible,
                tokens=cfg.num_tokens, freed_to_os=freed_to_os, gemm_now=gemm_now)


def _child(spec: dict) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"measurement {spec} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- loader
def loader_samples_per_core_s(num_frames: int, seconds: float = 3.0, batch: int = 64) -> float:
    """SequenceBatcher (crop/resize to T + rotation/scale augmentation + stacking) on one core, samples/s.

    Stored rows are synthetic NTU-like sequences of 60-300 frames (NTU60 averages ~70-100 frames).
    """
    from skelmae.data.batches import SequenceBatcher  # the training loop's collate function, unmodified

    rng = np.random.default_rng(0)
    lengths = rng.integers(60, 301, size=batch)
    rows = {"joints": [rng.standard_normal(t * 150).astype(np.float32) for t in lengths],
            "num_frames": lengths, "label": np.zeros(batch, dtype=np.int64),
            "sample_id": np.array([f"S001C001P001R001A{i % 60 + 1:03d}" for i in range(batch)])}
    batcher = SequenceBatcher(num_frames, train=True, crop=(0.5, 1.0), rotate_degrees=30.0, scale=0.1)
    batcher(rows)
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        batcher(rows)
        done += batch
    return done / (time.perf_counter() - t0)


# ---------------------------------------------------------------------------- report
def _report(rows: list[dict], peak_gflops: float, peak_label: str, loader: dict[int, float]) -> None:
    print(f"\n{'preset':<6} {'dev':<4} {'dtype':<5} {'ckpt':<8} {'batch':>5} {'step s':>8} {'samples/s':>10} "
          f"{'peak MB':>8} {'step MB':>8} {'GFLOP/smp':>9} {'GFLOP/s':>8} {'GEMM now':>8} {'of peak':>8} "
          f"{'enc/dec FLOP':>12} {'enc/dec time':>12} {'400 ep h':>9}")
    for r in rows:
        f = r["flops"]
        total = f["encoder"] + f["decoder"]
        sps = r["batch"] / r["step_s"] if r["step_s"] == r["step_s"] else float("nan")
        rate = total * sps / 1e9
        enc_t = r["enc_s"] / r["step_s"] if r["enc_s"] == r["enc_s"] else float("nan")
        # The higher of the run's peak and the row's own GEMM rate: the fraction is never flattered by a
        # moment when the machine was slow.
        peak = max(peak_gflops, r.get("gemm_now", 0.0) or 0.0) if r["device"] == "cpu" else \
            r.get("peak_gflops", float("nan"))
        r["of_peak"] = rate / peak
        print(f"{r['preset']:<6} {r['device']:<4} {r['dtype']:<5} {r['checkpointing']:<8} {r['batch']:>5} "
              f"{r['step_s']:>8.3f} {sps:>10.2f} {r['peak_mb']:>8.0f} {r['step_mb']:>8.0f} {total / 1e9:>9.2f} "
              f"{rate:>8.1f} {r.get('gemm_now', float('nan')):>8.1f} {r['of_peak']:>8.1%} "
              f"{f['encoder'] / total:>5.0%}/{f['decoder'] / total:<6.0%} "
              f"{enc_t:>5.0%}/{1 - enc_t:<6.0%} {NTU60_XSUB_TRAIN * EPOCHS / sps / 3600:>9.1f}")
    print("GEMM now: the fp32 GEMM rate measured right after the row's own steps; of peak: against the higher "
          "of that and the run's peak")
    for r in rows:
        if r["device"] == "cpu" and r["preset"] == "base" and r["step_s"] == r["step_s"]:
            print(f"base ckpt {r['checkpointing']:<8} {r['of_peak']:.1%} of the fp32 GEMM peak vs. target >= 60%: "
                  f"{'met' if r['of_peak'] >= 0.6 else 'NOT met'}")
    print(f"peak = {peak_label}; enc/dec time: encoder fwd+bwd vs. the rest of the step (decoder, loss, AdamW); "
          f"400 ep h: {EPOCHS} epochs x {NTU60_XSUB_TRAIN} NTU60 xsub samples at this rate, compute only")
    for r in rows:
        if r["device"] == "cpu" and r["preset"] == "base" and r["batch"] in MAMP_THIRD_MB:
            target = MAMP_THIRD_MB[r["batch"]]
            print(f"base batch {r['batch']:>2} ckpt {r['checkpointing']:<8} peak RSS {r['peak_mb']:.0f} MB "
                  f"(step adds {r['step_mb']:.0f} MB) vs. target <= {target} MB (a third of MAMP's): "
                  f"{'met' if r['peak_mb'] <= target else 'NOT met'}"
                  f"{'' if r.get('freed_to_os') else ' (glibc default heap)'}")
    for t, per_core in loader.items():
        print(f"loader at T={t}: {per_core:.0f} samples/s per CPU core (SequenceBatcher, crop + rotate + scale)")
        for r in rows:
            if r["step_s"] == r["step_s"] and r["preset"] in ("tiny", "base") and r["tokens"] and \
                    r.get("num_frames") == t:
                sps = r["batch"] / r["step_s"]
                print(f"  {r['preset']} {r['device']} {r['dtype']} batch {r['batch']} consumes {sps:.1f} samples/s "
                      f"-> {sps / per_core:.2f} loader cores needed")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", default="tiny,base")
    ap.add_argument("--mask-ratio", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for steps and the GEMM peak")
    ap.add_argument("--iters", type=int, default=0, help="timed steps (default: tiny 10 / base 2 on CPU)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--cpu-batch", default="tiny=16,base=8")
    ap.add_argument("--checkpointing", default="none,decoder,all", help="activation checkpointing settings timed")
    ap.add_argument("--glibc-heap", action="store_true",
                    help="keep glibc's default heap (freed activations stay resident) instead of "
                         "skelmae.train.host_memory's setting, as before it existed")
    ap.add_argument("--memory-batches", default="8,32", help="base batches whose peak memory is measured")
    ap.add_argument("--gpu-batch", default="tiny=512,base=128")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model for the GPU rows")
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="GPU dense bf16 peak (default: by name)")
    ap.add_argument("--skip-cpu", action="store_true", help="GPU rows only")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(**json.loads(args.child))))
        return

    torch.set_num_threads(args.threads)
    presets = [p for p in args.presets.split(",") if p]
    cpu_batch = dict((k, int(v)) for k, v in (kv.split("=") for kv in args.cpu_batch.split(",")))
    gpu_batch = dict((k, int(v)) for k, v in (kv.split("=") for kv in args.gpu_batch.split(",")))
    ckpts = [c for c in args.checkpointing.split(",") if c]
    has_ckpt = "activation_checkpointing" in ModelConfig.model_fields  # absent in older trees
    if not has_ckpt:
        ckpts = ["none"]
    print(f"torch {torch.__version__}, {args.threads} threads, load average {os.getloadavg()[0]:.1f} "
          f"(on {os.cpu_count()} CPUs), mask ratio {args.mask_ratio}")
    rows: list[dict] = []
    peak_before = peak_after = 0.0
    frames = {p: ModelConfig(preset=p).num_frames for p in presets}

    def run(**spec) -> None:
        spec.setdefault("ratio", args.mask_ratio)
        spec.setdefault("threads", args.threads)
        spec.setdefault("glibc_heap", args.glibc_heap)
        row = _child(spec)
        row["num_frames"] = frames[spec["preset"]]
        rows.append(row)

    if not args.skip_cpu:
        peak_before = gemm_peak_gflops(torch.device("cpu"), torch.float32)
        print(f"fp32 GEMM peak (2048^3 matmul, {args.threads} threads): {peak_before:.1f} GFLOP/s")
        for preset in presets:
            iters = args.iters or (10 if preset == "tiny" else 2)
            b = cpu_batch.get(preset, 8)
            for ck in ckpts:
                run(preset=preset, batch=b, iters=iters, warmup=args.warmup, device_name="cpu", dtype="fp32",
                    checkpointing=ck, compile=False, split=ck == "none")
            if preset == "base":
                for mb in (int(v) for v in args.memory_batches.split(",") if v):
                    if mb == b:
                        continue  # already measured with the timed rows
                    for ck in ckpts:  # two steps: AdamW's state exists from the second one on
                        run(preset=preset, batch=mb, iters=0, warmup=2, device_name="cpu", dtype="fp32",
                            checkpointing=ck, compile=False, split=False)
        peak_after = gemm_peak_gflops(torch.device("cpu"), torch.float32)
        print(f"fp32 GEMM peak again after the steps: {peak_after:.1f} GFLOP/s")
    peak = max(peak_before, peak_after)
    label = f"max fp32 GEMM rate measured in this run ({peak_before:.1f} before, {peak_after:.1f} after)"

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        gpu_peak = args.peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
        print(f"GPU: {name}; dense bf16 peak {gpu_peak or 'unknown (pass --peak-tflops)'} TFLOP/s; "
              f"bf16 GEMM measured {gemm_peak_gflops(torch.device('cuda'), torch.bfloat16, 8192, 10) / 1e3:.0f} "
              f"TFLOP/s")
        for preset in presets:
            run(preset=preset, batch=gpu_batch.get(preset, 64), iters=args.iters or 20, warmup=max(args.warmup, 3),
                device_name="cuda", dtype="bf16", checkpointing="none", compile=args.compile, split=True)
            rows[-1]["peak_gflops"] = (gpu_peak or float("nan")) * 1e3
    else:
        print("no GPU: skipping the bf16-autocast / fused-AdamW GPU rows")
    loader = {t: loader_samples_per_core_s(t) for t in sorted(set(frames.values()) | {120})}
    _report(rows, peak, label, loader)


if __name__ == "__main__":
    main()
